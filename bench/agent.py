"""Token economy and loop overhead of the agent, against the scripted fake Messages API.

For every scenario of the given folders: replay it into the emulator, investigate with a
scripted two-step agent (step 1 reads the log patterns, step 2 submits the triage's top
category) and print the input tokens (uncached + cache writes + cache reads) and the
cost at the configured model's prices. One fake serves every investigation, so its
prompt cache carries over from one to the next as the API's does: the second
investigation's cache-read share shows what the cached system prompt and tools save.
Tokens are counted by the fake as four characters each, not by Claude's tokenizer.

Then the loop's own overhead per step: a ten-step investigation (nine runbook searches,
then a submission) with the fake answering at once; target under 20 ms per step.

    python bench/agent.py [FOLDER ...]            (default: scenarios)
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import time
from pathlib import Path

from bot.agent.loop import build_agent
from bot.config import BUNDLED_SCENARIOS, Settings
from bot.engine.investigate import gather_options, investigate
from bot.engine.runbooks import load_runbooks
from bot.models import Usage
from bot.sim.emulator import emulator_session, reset_emulator, running_emulator
from bot.sim.fakes.anthropic import FakeAnthropic, Reply, calls, fake_anthropic, submit
from bot.sim.fakes.anthropic import tool_use as use
from bot.sim.replay import replay
from bot.sim.scenario import load_scenario, scenario_files
from tools.aws import AwsClients

TOP = re.compile(r"^1\. ([a-z_]+) \(confidence", re.M)
STEPS = 10


def two_step(body: dict) -> Reply:
    """Read the logs once, then submit the category the triage ranked first."""
    if not any(m["role"] == "assistant" for m in body["messages"]):
        return calls(use("get_log_patterns", {}))
    prompt = body["messages"][0]["content"][0]["text"]
    found = TOP.search(prompt)
    return submit(category=found.group(1) if found else "bad_deployment", runbook=None)


def searching(body: dict) -> Reply:
    """A different runbook search on every step; the loop forces the answer at the end."""
    asked = sum(1 for m in body["messages"] if m["role"] == "assistant")
    if asked + 1 >= STEPS:
        return submit(runbook=None)
    return calls(use("search_runbooks", {"query": f"error {asked}"}))


def total_input(usage: Usage) -> int:
    return usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[BUNDLED_SCENARIOS])
    args = parser.parse_args(argv)
    base = Settings(_env_file=None)
    books = load_runbooks(base.runbooks_dir)
    rows = []
    with running_emulator() as url, fake_anthropic() as fake:
        settings = Settings(
            _env_file=None, ANTHROPIC_API_KEY="bench-key", ANTHROPIC_BASE_URL=fake.url
        )
        agent = build_agent(settings)
        print(f"model {settings.llm_model} · prompt version {agent.version}")
        last = None
        for path in [p for folder in args.folders for p in scenario_files(folder)]:
            scenario = load_scenario(path)
            reset_emulator(url)
            aws = AwsClients(scenario.region, url, emulator_session(scenario.region))
            run = replay(scenario, aws, settings)
            fake.add(two_step, two_step)
            found, bundle = investigate(
                aws,
                run.alarm,
                run.service,
                books,
                now=run.telemetry.end,
                options=gather_options(settings),
                agent=agent,
            )
            last = (found, bundle, aws)
            usage = found.usage
            share = usage.cache_read_input_tokens / max(total_input(usage), 1)
            rows.append((path.name, total_input(usage), usage.cost_usd, share, found))
            print(
                f"{path.name:62} {found.source:6} steps {found.steps} input {total_input(usage):6} "
                f"(cache read {usage.cache_read_input_tokens:6}, written "
                f"{usage.cache_creation_input_tokens:5}) ${usage.cost_usd:.4f} "
                f"cache-read share {share:.0%}",
                flush=True,
            )
        if not rows or last is None:
            print("no scenarios")
            return 1
        tokens = [r[1] for r in rows]
        costs = [r[2] for r in rows]
        print(
            f"\n{len(rows)} investigations: input tokens median {statistics.median(tokens):.0f} "
            f"max {max(tokens)}; cost median ${statistics.median(costs):.4f} "
            f"max ${max(costs):.4f} total ${sum(costs):.3f}"
        )
        if len(rows) > 1:
            rest = statistics.median(r[3] for r in rows[1:])
            print(
                f"cache-read share: first investigation {rows[0][3]:.0%}, "
                f"second {rows[1][3]:.0%}, median of the rest {rest:.0%}"
            )
        found, bundle, aws = last
        triage = found.model_copy(update={"hypotheses": found.hypotheses[1:]})
        overhead(fake, settings, triage, bundle, books, aws)
    failed = [r[0] for r in rows if r[4].source != "llm"]
    if failed:
        print(f"fell back to triage: {failed}")
    return 0


def overhead(fake: FakeAnthropic, settings: Settings, triage, bundle, books, aws) -> None:
    """Wall time per step of a ten-step loop against a fake that answers at once."""
    agent = build_agent(settings.model_copy(update={"llm_max_steps": STEPS}))
    per_step, loop_only = [], []
    for _ in range(7):
        fake.add(*([searching] * STEPS))
        busy = fake.busy_s
        began = time.perf_counter()
        result = agent.analyze(triage, bundle, books, aws)
        elapsed = time.perf_counter() - began
        assert result.steps == STEPS, result.fallback_reason
        per_step.append(elapsed / STEPS)
        loop_only.append((elapsed - (fake.busy_s - busy)) / STEPS)
    ms = statistics.median(per_step) * 1000
    mine = statistics.median(loop_only) * 1000
    verdict = "ok" if ms < 20 else "OVER TARGET"
    print(
        f"loop overhead: {ms:.1f} ms/step with the fake's own work, {mine:.1f} ms/step without "
        f"(median of 7 runs of {STEPS} steps; target < 20 ms) {verdict}"
    )


if __name__ == "__main__":
    sys.exit(main())
