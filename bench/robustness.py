"""Does the diagnosis hold on real text? Every bundled scenario, plain and in each kind of
adversarial variant (`bot.sim.variants`), investigated offline and scored.

Prints per variant kind: top-1, the expected evidence found in the first hypothesis,
top-1 with all its evidence, the Brier score of the shown confidence, and how many answers
were confident (>= 0.8) and wrong. `--save FILE` keeps every case (with the raw triage
weights) for `bench/calibrate.py --cases FILE`, so the calibration can be refitted without
investigating again.

    python bench/robustness.py scenarios ../shared/scenarios [--kinds wording,traps] [--save F]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

from bot.config import load_settings
from bot.engine.calibration import brier, confidences, load_calibration
from bot.engine.runbooks import load_runbooks
from bot.sim.emulator import running_emulator
from bot.sim.evaluate import Case, evaluate
from bot.sim.scenario import scenario_files
from bot.sim.variants import KINDS, variant

CONFIDENT = 0.8


def collect(
    folders: list[Path], kinds: list[str], limit: int | None = None, verbose: bool = True
) -> list[Case]:
    """Every scenario with `expected`, plain and in each kind, as cases."""
    settings = load_settings()
    books = load_runbooks(settings.runbooks_dir)
    cases: list[Case] = []
    paths = scenario_files(*folders)[:limit]
    with running_emulator() as url:
        for path in paths:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
            if not data.get("expected"):
                continue
            for kind in ["plain", *kinds]:
                told = data if kind == "plain" else variant(data, kind)
                case = evaluate(told, url, settings, books, kind=kind, source=f"{path} [{kind}]")
                cases.append(case)
                if verbose:
                    mark = "ok  " if case.top1 else "MISS"
                    print(
                        f"{mark} {kind:15} {case.scenario:58} {case.ranked[0].value:27} "
                        f"{case.confidence:.2f} {case.verdict:12} evidence "
                        f"{case.evidence_hit}/{case.evidence_want} {case.seconds:.1f}s",
                        flush=True,
                    )
    return cases


def recalibrated(case: Case) -> Case:
    """A saved case with the confidence and verdict the current calibration gives its
    raw weights (the ranking does not change)."""
    model = load_calibration()
    shown = confidences(case.weights, model)[case.ranked[0]]
    verdict = "determined" if shown >= model.threshold else "undetermined"
    return case.model_copy(update={"confidence": shown, "verdict": verdict})


def summary(cases: list[Case]) -> list[dict]:
    """Per kind (plain first, then all), the figures the bench prints."""
    kinds = list(dict.fromkeys(c.kind for c in cases))
    rows = []
    for kind in [*kinds, "all variants", "all"]:
        if kind == "all":
            subset = cases
        elif kind == "all variants":
            subset = [c for c in cases if c.kind != "plain"]
        else:
            subset = [c for c in cases if c.kind == kind]
        if not subset:
            continue
        n = len(subset)
        rows.append(
            {
                "kind": kind,
                "n": n,
                "top1": sum(c.top1 for c in subset) / n,
                "evidence": sum(c.evidence_hit for c in subset)
                / max(sum(c.evidence_want for c in subset), 1),
                "top1_evidence": sum(c.top1 and c.evidence_ok for c in subset) / n,
                "brier": brier([(c.confidence, c.top1) for c in subset]),
                "confident_wrong": sum(
                    1 for c in subset if c.confidence >= CONFIDENT and not c.top1
                ),
                "undetermined": sum(1 for c in subset if c.verdict == "undetermined"),
            }
        )
    return rows


def print_summary(cases: list[Case]) -> None:
    print(
        f"\n{'kind':15} {'n':>4} {'top-1':>6} {'evidence':>9} {'top-1+ev':>9} {'Brier':>6} "
        f"{'conf>=0.8 & wrong':>18} {'undetermined':>12}"
    )
    for row in summary(cases):
        print(
            f"{row['kind']:15} {row['n']:4} {row['top1']:6.0%} {row['evidence']:9.0%} "
            f"{row['top1_evidence']:9.0%} {row['brier']:6.3f} {row['confident_wrong']:18} "
            f"{row['undetermined']:12}"
        )
    misses = [c for c in cases if not c.top1]
    for case in misses:
        print(f"  miss {case.kind}: {case.scenario} -> {case.ranked[0].value} {case.confidence}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[Path("scenarios")])
    parser.add_argument("--kinds", default=",".join(KINDS), help="comma-separated kinds")
    parser.add_argument("--limit", type=int, help="only the first N scenario files")
    parser.add_argument("--save", type=Path, help="write every case as JSON")
    parser.add_argument("--cases", type=Path, help="read cases saved earlier instead of running")
    args = parser.parse_args(argv)
    if args.cases:  # shown again with the calibration shipped now
        cases = [recalibrated(Case.model_validate(c)) for c in json.loads(args.cases.read_text())]
    else:
        kinds = [k for k in args.kinds.split(",") if k]
        unknown = set(kinds) - set(KINDS)
        if unknown:
            parser.error(f"unknown kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
        cases = collect(args.folders, kinds, args.limit)
    if not cases:
        print("no scenarios with `expected` found")
        return 1
    if args.save:
        args.save.write_text(json.dumps([c.model_dump(mode="json") for c in cases], indent=1))
        print(f"{len(cases)} cases written to {args.save}")
    print_summary(cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
