"""Top-1 / top-3 category accuracy and evidence hits over folders of scenarios.

Each scenario is replayed into one in-process AWS emulator (reset between
scenarios) and investigated offline, exactly as `investigate --offline` does.

    python bench/accuracy.py scenarios ../shared/scenarios
    python bench/accuracy.py --agent [--models M1,M2] scenarios ../shared/scenarios

`--agent` also runs Claude's loop on every scenario and prints, per model, top-1, the
expected evidence found, mean cost, mean wall time and tool calls, beside the triage alone.
It calls the real API when `ANTHROPIC_API_KEY` is set or `LLM_PROVIDER=bedrock` (with AWS
credentials); otherwise it says so and runs the scripted fake Messages API
(`bot.sim.fakes.anthropic`), whose script reads two tools and submits the triage's first
category with its evidence, so the table shows the loop's mechanics, not a model's skill.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import bot.agent.loop as agent_loop
from bot.agent.loop import build_agent
from bot.config import Settings, load_settings
from bot.engine.investigate import gather_options, investigate
from bot.engine.runbooks import load_runbooks
from bot.sim.emulator import emulator_session, reset_emulator, running_emulator
from bot.sim.fakes.anthropic import Reply, calls, fake_anthropic, submit, tool_use
from bot.sim.replay import replay
from bot.sim.scenario import load_scenario, scenario_files
from tools.aws import AwsClients


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("-v", "--verbose", action="store_true", help="show misses in detail")
    parser.add_argument("--agent", action="store_true", help="also run Claude's loop")
    parser.add_argument("--models", help="comma-separated models for --agent (default: configured)")
    args = parser.parse_args(argv)
    settings = load_settings()
    if args.agent:
        return agent_table(args.folders, settings, args.models)
    books = load_runbooks(settings.runbooks_dir)
    options = gather_options(settings)
    rows = []
    with running_emulator() as url:
        paths = [(i, p) for i, folder in enumerate(args.folders) for p in scenario_files(folder)]
        for folder_index, path in paths:
            scenario = load_scenario(path)
            if scenario.expected is None:
                continue
            reset_emulator(url)
            began = time.monotonic()
            aws = AwsClients(scenario.region, url, emulator_session(scenario.region))
            run = replay(scenario, aws, settings)
            found, _bundle = investigate(
                aws, run.alarm, run.service, books, now=run.telemetry.end, options=options
            )
            seconds = time.monotonic() - began
            expected = scenario.expected
            accepted = {expected.category, *expected.acceptable}
            ranked = [h.category for h in found.hypotheses]
            top = found.hypotheses[0]
            text = " ".join(top.evidence).lower()
            hits = [e for e in expected.evidence if e.lower() in text]
            row = {
                "file": f"{path.parent.name}/{path.name}",
                "folder": folder_index,
                "expected": expected.category.value,
                "top": ranked[0].value,
                "confidence": top.confidence,
                "top1": ranked[0] in accepted,
                "top3": bool(accepted & set(ranked[:3])),
                "evidence": (len(hits), len(expected.evidence)),
                "tokens": found.evidence_tokens,
                "seconds": seconds,
            }
            rows.append(row)
            mark = "ok " if row["top1"] else "MISS"
            print(
                f"{mark} {row['file']:60} expected {row['expected']:26} got {row['top']:26} "
                f"{top.confidence:.2f} evidence {len(hits)}/{len(expected.evidence)} "
                f"tokens {found.evidence_tokens} {seconds:.1f}s",
                flush=True,
            )
            if args.verbose and (not row["top1"] or len(hits) < len(expected.evidence)):
                for h in found.hypotheses[:3]:
                    print(f"     {h.category.value} {h.confidence}")
                    for line in h.evidence:
                        print(f"        {line[:200]}")
                print("     missing:", found.missing)
    if not rows:
        print("no scenarios with `expected` found")
        return 1
    for index, folder in enumerate(args.folders):
        subset = [r for r in rows if r["folder"] == index]
        if subset:
            _summary(str(folder), subset)
    _summary("all", rows)
    return 0


def _summary(label: str, rows: list[dict]) -> None:
    n = len(rows)
    top1 = sum(r["top1"] for r in rows)
    top3 = sum(r["top3"] for r in rows)
    hit = sum(r["evidence"][0] for r in rows)
    want = sum(r["evidence"][1] for r in rows)
    tokens = max(r["tokens"] for r in rows)
    slowest = max(r["seconds"] for r in rows)
    print(
        f"{label}: {n} scenarios, top-1 {top1}/{n} ({top1 / n:.0%}), top-3 {top3}/{n} "
        f"({top3 / n:.0%}), evidence hits {hit}/{want}, max evidence tokens {tokens}, "
        f"slowest {slowest:.1f}s"
    )


# -- --agent: Claude's loop beside the triage ----------------------------------------------

TOP = re.compile(r"^1\. ([a-z_]+) \(confidence", re.M)
EVIDENCE = re.compile(r"^   - (.+)$", re.M)


def scripted(body: dict) -> Reply:
    """The fake model: read the log patterns and the changes, then submit the triage's
    first category with its evidence lines (as a careful model confirming it would)."""
    asked = sum(1 for m in body["messages"] if m["role"] == "assistant")
    if asked == 0:
        return calls(use_tool("get_log_patterns"), use_tool("get_recent_changes"))
    prompt = body["messages"][0]["content"][0]["text"]
    found = TOP.search(prompt)
    first = prompt[found.end() :] if found else ""
    cut = re.search(r"^2\. ", first, re.M)
    lines = EVIDENCE.findall(first[: cut.start()] if cut else first)[:6] or ["no evidence"]
    category = found.group(1) if found else "bad_deployment"
    return submit(category=category, evidence=lines, confidence=0.7, runbook=None)


def use_tool(name: str) -> dict:
    return tool_use(name, {})


def llm_available(settings: Settings) -> str | None:
    """Why a real model can be called ("ANTHROPIC_API_KEY set", "Bedrock"), or None."""
    if settings.llm_provider == "bedrock":
        return "Bedrock (LLM_PROVIDER=bedrock)"
    if settings.anthropic_api_key is not None or os.environ.get("ANTHROPIC_API_KEY"):
        return "ANTHROPIC_API_KEY set"
    return None


@contextlib.contextmanager
def counting_tools() -> Iterator[list[int]]:
    """Count the tool calls the loop makes (each batch it runs), without touching it."""
    counted: list[int] = []
    original = agent_loop.run_tools

    def run_tools(run, tools, uses, *rest, **kw):  # type: ignore[no-untyped-def]
        counted.append(len(uses))
        return original(run, tools, uses, *rest, **kw)

    agent_loop.run_tools = run_tools
    try:
        yield counted
    finally:
        agent_loop.run_tools = original


def agent_table(folders: list[Path], settings: Settings, models: str | None) -> int:
    real = llm_available(settings)
    books = load_runbooks(settings.runbooks_dir)
    options = gather_options(settings)
    stack = contextlib.ExitStack()
    if real:
        print(f"LLM path: {real}; calling the real API")
        chosen = [m for m in (models or settings.llm_model or "").split(",") if m]
    else:
        print(
            "no ANTHROPIC_API_KEY and no Bedrock provider set: running the scripted fake "
            "Messages API instead (offline; figures show the loop, not a model)"
        )
        fake = stack.enter_context(fake_anthropic())
        settings = Settings(
            _env_file=None, ANTHROPIC_API_KEY="bench-key", ANTHROPIC_BASE_URL=fake.url
        )
        chosen = [m for m in (models or settings.llm_model or "").split(",") if m]
    rows: dict[str, list[dict]] = {"triage alone": []}
    with stack, running_emulator() as url, counting_tools() as counted:
        paths = [p for folder in folders for p in scenario_files(folder)]
        for path in paths:
            scenario = load_scenario(path)
            if scenario.expected is None:
                continue
            expected = scenario.expected
            accepted = {expected.category, *expected.acceptable}
            for model in [None, *chosen]:
                reset_emulator(url)
                aws = AwsClients(scenario.region, url, emulator_session(scenario.region))
                run = replay(scenario, aws, settings)
                agent = None
                if model is not None:
                    agent = build_agent(settings.model_copy(update={"llm_model": model}))
                    if not real:
                        fake.add(scripted, scripted, scripted)
                before = sum(counted)
                began = time.monotonic()
                found, _ = investigate(
                    aws,
                    run.alarm,
                    run.service,
                    books,
                    now=run.telemetry.end,
                    options=options,
                    agent=agent,
                )
                top = found.hypotheses[0]
                text = " ".join(top.evidence).lower()
                rows.setdefault(model or "triage alone", []).append(
                    {
                        "top1": top.category in accepted,
                        "hit": sum(1 for e in expected.evidence if e.lower() in text),
                        "want": len(expected.evidence),
                        "cost": found.usage.cost_usd,
                        "seconds": time.monotonic() - began,
                        "tools": sum(counted) - before,
                        "llm": found.source == "llm",
                    }
                )
            print(f"{path.name}: done", flush=True)
    print(
        f"\n{'model':28} {'n':>3} {'top-1':>6} {'evidence':>9} {'answered':>9} "
        f"{'mean cost':>10} {'mean wall':>10} {'tool calls':>10}"
    )
    for model, found in rows.items():
        if not found:
            continue
        n = len(found)
        print(
            f"{model:28} {n:3} {sum(r['top1'] for r in found) / n:6.0%} "
            f"{sum(r['hit'] for r in found) / max(sum(r['want'] for r in found), 1):9.0%} "
            f"{sum(r['llm'] for r in found) / n:9.0%} "
            f"${statistics.fmean(r['cost'] for r in found):9.4f} "
            f"{statistics.fmean(r['seconds'] for r in found):9.1f}s "
            f"{statistics.fmean(r['tools'] for r in found):10.1f}"
        )
    print("answered: the share the LLM answered (the rest fell back to the triage)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
