"""Memory of past incidents, measured: top-1 on recurrences and on non-recurrences, before
and after the prior from confirmed past causes.

    python bench/recurrence.py scenarios [-v]

A sequence of incidents is replayed from the scenario folders into the in-process
emulator and investigated offline, as `investigate --offline` does, with a real store
(SQLite) behind the memory:

1. **First occurrences.** Every scenario once. The on-call engineer's feedback is
   simulated from the scenario's `expected`: 👍 when the top hypothesis is right, else 👎
   naming the real cause in the modal; what fixed it is noted in the thread. Each
   analysis is stored with its fingerprint, exactly as the bot stores it.
2. **Recurrences.** Every scenario again, as a new incident of its service: the same
   failure with new random draws (a new seed), and the same with part of the evidence
   gone (its log groups unreadable; CloudTrail not delivered), as real recurrences often
   are.
3. **Non-recurrences.** Another scenario (of another category) played as a new incident
   of the first one's service, behind the first one's alarm name: a different failure
   where memory of the service can only mislead; also with the logs unreadable.

"Before" is the triage alone; "after" is the same investigation with the bot's memory
step (`bot.engine.memory.apply_prior`) over the store's past incidents of the service.
Both are read from one investigation per replay, so they differ only by the memory.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from bot.config import load_settings
from bot.engine.investigate import gather_options, investigate
from bot.engine.memory import apply_prior
from bot.engine.runbooks import by_category, load_runbooks
from bot.models import Investigation
from bot.sim.emulator import emulator_session, reset_emulator, running_emulator
from bot.sim.replay import replay
from bot.sim.scenario import Scenario, load_scenario, scenario_files
from bot.slack.blocks import seen_before_line
from bot.store import Store
from bot.store.schema import upgrade
from tools.aws import AwsClients

Degrade = Callable[[AwsClients, Scenario, str], None]


def intact(aws: AwsClients, scenario: Scenario, cloudtrail: str) -> None:
    """Nothing removed: the failure happens again as it did."""


def logs_unreadable(aws: AwsClients, scenario: Scenario, cloudtrail: str) -> None:
    """The service's log groups are gone (retention, a deleted group, a denied read)."""
    client = aws.client("logs")
    for group in scenario.service.all_log_groups():
        with contextlib.suppress(client.exceptions.ResourceNotFoundException):
            client.delete_log_group(logGroupName=group)


def cloudtrail_missing(aws: AwsClients, scenario: Scenario, cloudtrail: str) -> None:
    """CloudTrail delivered nothing: no change events to place against the onset."""
    client = aws.client("logs")
    with contextlib.suppress(client.exceptions.ResourceNotFoundException):
        client.delete_log_group(logGroupName=cloudtrail)


RECURRENCES: dict[str, tuple[int, Degrade]] = {
    "same failure, new draws": (1, intact),
    "same failure, logs unreadable": (2, logs_unreadable),
    "same failure, no CloudTrail": (3, cloudtrail_missing),
}
NON_RECURRENCES: dict[str, tuple[int, Degrade]] = {
    "another failure, same service and alarm": (1, intact),
    "another failure, logs unreadable": (2, logs_unreadable),
}


@dataclass
class Played:
    scenario: Scenario
    before: Investigation
    after: Investigation

    def right(self, found: Investigation) -> bool:
        expected = self.scenario.expected
        assert expected is not None
        top = found.top
        return top is not None and top.category in {expected.category, *expected.acceptable}


class Bench:
    def __init__(self, url: str, store: Store, verbose: bool) -> None:
        self.url, self.store, self.verbose = url, store, verbose
        self.settings = load_settings()
        self.books = load_runbooks(self.settings.runbooks_dir)
        self.options = gather_options(self.settings)
        self.example: str | None = None

    def play(
        self,
        scenario: Scenario,
        seed_offset: int,
        degrade: Degrade,
        as_of: Scenario | None = None,
    ) -> tuple[Played, object]:
        """Replay (on a fresh emulator), investigate, and apply the memory of the service
        `as_of` names (the scenario's own unless another is given)."""
        reset_emulator(self.url)
        aws = AwsClients(scenario.region, self.url, emulator_session(scenario.region))
        variant = scenario.model_copy(update={"seed": scenario.seed + seed_offset})
        run = replay(variant, aws, self.settings)
        degrade(aws, scenario, self.settings.cloudtrail_log_group)
        before, _ = investigate(
            aws, run.alarm, run.service, self.books, now=run.telemetry.end, options=self.options
        )
        owner = as_of or scenario
        seen = before.fingerprint
        assert seen is not None
        seen = seen.model_copy(update={"service": owner.service.name, "alarm": owner.alarm.name})
        past = self.store.memory.past(owner.service.name)
        after = apply_prior(before, seen, past, self.settings.memory_max_prior)
        return Played(scenario, before, after), run.alarm

    def remember(self, played: Played, alarm: object) -> None:
        """Store the incident as the bot does, and the engineer's feedback on it."""
        scenario = played.scenario
        expected = scenario.expected
        assert expected is not None
        name = scenario.service.name
        delivery = self.store.incidents.request_analysis(alarm, name, timedelta(seconds=1), None)
        incident = delivery.incident
        assert incident is not None
        analysis = self.store.analyses.add(incident.id, played.after, "", 0.0)
        fingerprint = played.before.fingerprint
        assert fingerprint is not None
        self.store.memory.remember(analysis.id, incident.id, name, fingerprint)
        if played.right(played.after):
            self.store.feedback.vote(analysis.id, "oncall", 1)
        else:
            self.store.feedback.vote(
                analysis.id, "oncall", -1, real_category=expected.category.value
            )
        book = by_category(self.books).get(expected.category)
        fix = f"followed the {book.id} runbook" if book else "fixed by hand"
        self.store.memory.add_resolution(incident.id, "oncall", fix)
        self.store.incidents.update(incident.id, status="resolved")

    def report(self, label: str, played: list[Played]) -> tuple[int, int, int]:
        n = len(played)
        before = sum(p.right(p.before) for p in played)
        after = sum(p.right(p.after) for p in played)
        print(
            f"  {label:42} before {before:>3}/{n} ({before / n:4.0%})   "
            f"after {after:>3}/{n} ({after / n:4.0%})",
            flush=True,
        )
        if self.verbose:
            for p in played:
                if p.right(p.before) != p.right(p.after) or not p.right(p.after):
                    print(f"    {_detail(p)}")
        return before, after, n


def _detail(p: Played) -> str:
    """What memory did to one incident: the verdict, the top before and after, how the
    expected category stood, and the similar past incidents it recalled."""
    expected = p.scenario.expected
    assert expected is not None
    mark = (
        "FIXED"
        if p.right(p.after) and not p.right(p.before)
        else ("BROKE" if p.right(p.before) else "MISS ")
    )

    def reading(found: Investigation) -> str:
        top = found.top
        mine = next((h.confidence for h in found.hypotheses if h.category == expected.category), 0)
        name, score = (top.category.value, top.confidence) if top else ("-", 0.0)
        return f"{name} {score:.2f} (expected {mine:.2f})"

    recalled = (
        ", ".join(
            f"#{x.incident_id} {x.confirmed.value if x.confirmed else '-'} {x.similarity:.2f}"
            for x in p.after.seen_before
        )
        or "none"
    )
    return (
        f"{mark} {p.scenario.id}: {reading(p.before)} -> {reading(p.after)}; "
        f"expected {expected.category.value}; recalled {recalled}"
    )


def _pairs(scenarios: list[Scenario]) -> list[tuple[Scenario, Scenario]]:
    """Each scenario with the next one (in file order) whose expected category differs."""
    pairs = []
    for index, owner in enumerate(scenarios):
        others = scenarios[index + 1 :] + scenarios[:index]
        assert owner.expected is not None
        other = next(
            o for o in others if o.expected and o.expected.category != owner.expected.category
        )
        pairs.append((owner, other))
    return pairs


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    parser.add_argument("-v", "--verbose", action="store_true", help="name what memory changed")
    args = parser.parse_args(argv)
    scenarios = [
        s
        for folder in args.folders
        for s in (load_scenario(p) for p in scenario_files(folder))
        if s.expected is not None
    ]
    if len({s.expected.category for s in scenarios if s.expected}) < 2:
        print("need scenarios of at least two categories")
        return 1
    with tempfile.TemporaryDirectory() as folder, running_emulator() as url:
        db = f"sqlite:///{folder}/memory.db"
        upgrade(db)
        bench = Bench(url, Store(db), args.verbose)
        prior = bench.settings.memory_max_prior
        print(f"recurrence bench: {len(scenarios)} scenarios, memory prior at most {prior:.2f}")
        first = [bench.play(s, 0, intact) for s in scenarios]
        for played, alarm in first:
            bench.remember(played, alarm)
        totals: dict[str, list[int]] = {"recurrences": [0, 0, 0], "non-recurrences": [0, 0, 0]}
        bench.report("first occurrences (feedback given)", [p for p, _ in first])
        print("recurrences (the same failure of the same service again):")
        for label, (offset, degrade) in RECURRENCES.items():
            played = [bench.play(s, offset, degrade)[0] for s in scenarios]
            b, a, n = bench.report(label, played)
            totals["recurrences"] = [
                x + y for x, y in zip(totals["recurrences"], (b, a, n), strict=True)
            ]
            if bench.example is None:
                seen = next((p for p in played if p.after.seen_before), None)
                if seen is not None:
                    lines = "\n".join(f"    {seen_before_line(x)}" for x in seen.after.seen_before)
                    bench.example = f"  {seen.scenario.service.name}, {label}:\n{lines}"
        print("non-recurrences (another failure behind the same service's alarm):")
        for label, (offset, degrade) in NON_RECURRENCES.items():
            played = [
                bench.play(other, offset, degrade, as_of=owner)[0]
                for owner, other in _pairs(scenarios)
            ]
            b, a, n = bench.report(label, played)
            totals["non-recurrences"] = [
                x + y for x, y in zip(totals["non-recurrences"], (b, a, n), strict=True)
            ]
        for kind, (b, a, n) in totals.items():
            print(f"top-1 on {kind}: before {b}/{n} ({b / n:.0%}), after {a}/{n} ({a / n:.0%})")
        if bench.example:
            print("Seen before, as the thread shows it on a recurrence:")
            print(bench.example)
    return 0


if __name__ == "__main__":
    sys.exit(main())
