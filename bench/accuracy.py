"""Top-1 / top-3 category accuracy and evidence hits over folders of scenarios.

Each scenario is replayed into one in-process AWS emulator (reset between
scenarios) and investigated offline, exactly as `investigate --offline` does.

    python bench/accuracy.py scenarios ../shared/scenarios
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from bot.config import load_settings
from bot.engine.investigate import gather_options, investigate
from bot.engine.runbooks import load_runbooks
from bot.sim.emulator import emulator_session, reset_emulator, running_emulator
from bot.sim.replay import replay
from bot.sim.scenario import load_scenario, scenario_files
from tools.aws import AwsClients


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("-v", "--verbose", action="store_true", help="show misses in detail")
    args = parser.parse_args(argv)
    settings = load_settings()
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


if __name__ == "__main__":
    sys.exit(main())
