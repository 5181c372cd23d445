"""What was read of a log group, per side of the onset, and what each line read stands for.

A busy group holds a million lines in the lookback; reading them all is neither possible
within the deadline nor needed. Each side of the onset (baseline and recent) is read in
passes: every failure-level line first (`FAILURE_TERMS`, the same alternation as a
Logs Insights regex, a FilterLogEvents `%regex%` pattern and a Python regex, so server
and client agree on what a failure-level line is), then a bounded sample of the others
from both ends of the side. A line read stands for `total / read` lines of its pass, so
counts are exact where a pass read everything and scaled where it sampled, and the group
says which in one line (`statement`), carried into the evidence.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

# Words that make a line worth counting exactly: levels, exception names, Lambda's own
# failure lines, guardrail interventions, failed invocation-log records. Only what a
# CloudWatch Logs filter-pattern regex allows (no spaces, quotes or groups: `.` stands
# for either).
FAILURE_TERMS = (
    "ERROR",
    "[Ee]rror",
    "[Ee]xception",
    "FATAL",
    "CRITICAL",
    "WARN",
    "[Ww]arning",
    "Traceback",
    "[Tt]imed.out",
    "signal:.killed",
    "Runtime\\.",
    "INTERVENED",
    "guardrail_intervened",
    "status.:.timeout",
    "[Ff]ailed",
)
FAILURE = re.compile("|".join(FAILURE_TERMS))
FILTER_PATTERN = "%" + "|".join(FAILURE_TERMS) + "%"
INSIGHTS_REGEX = "/" + "|".join(FAILURE_TERMS) + "/"

Event = tuple[int, str]


def is_failure(message: str) -> bool:
    return FAILURE.search(message) is not None


@dataclass
class Pass:
    """One read of one side: which kind of line, what was read, how many there are."""

    kind: str  # "failures" | "others" | "all"
    events: list[Event]
    total: float  # lines of this kind on this side, exact or estimated
    exact: bool = True  # whether `total` is a count (Logs Insights) rather than an estimate

    @property
    def complete(self) -> bool:
        return len(self.events) >= round(self.total)

    @property
    def weight(self) -> float:
        """How many lines of the side one line read here stands for."""
        if not self.events or self.complete:
            return 1.0
        return self.total / len(self.events)


@dataclass
class GroupSample:
    """What was read of one log group, per side of the onset (False: baseline)."""

    group: str
    path: str  # "insights" or "filter"
    passes: dict[bool, list[Pass]] = field(default_factory=lambda: {False: [], True: []})
    problems: list[str] = field(default_factory=list)  # queries that failed or were cut

    def weighted(self) -> Iterator[tuple[int, str, float]]:
        """Every line read, with the number of lines it stands for."""
        for passes in self.passes.values():
            for one in passes:
                weight = one.weight
                for timestamp_ms, message in one.events:
                    yield timestamp_ms, message, weight

    @property
    def events(self) -> list[Event]:
        """Every line read, oldest first."""
        return sorted((t, m) for t, m, _ in self.weighted())

    def total(self, recent: bool | None = None) -> float:
        sides = [recent] if recent is not None else [False, True]
        return sum(p.total for side in sides for p in self.passes[side])

    def read(self, recent: bool | None = None) -> int:
        sides = [recent] if recent is not None else [False, True]
        return sum(len(p.events) for side in sides for p in self.passes[side])

    def scale(self, recent: bool, failure: bool) -> float:
        """Lines one read line stands for, on one side, for one kind of line."""
        for one in self.passes[recent]:
            if one.kind == "all" or (one.kind == "failures") == failure:
                return one.weight
        return 1.0

    @property
    def complete(self) -> bool:
        return all(p.complete for passes in self.passes.values() for p in passes)

    @property
    def exact(self) -> bool:
        return all(p.exact for passes in self.passes.values() for p in passes)

    def statement(self) -> str:
        """One line saying what was read and how far the counts can be trusted."""
        total, read = self.total(), self.read()
        source = "Logs Insights" if self.path == "insights" else "FilterLogEvents"
        if self.complete:
            return f"{self.group}: all {fmt_count(total)} lines in the window read ({source})"
        approx = "" if self.exact else "~"
        how = (
            "the oldest and newest of each side of the onset"
            if self.path == "insights"
            else "the start of each time slice of each side of the onset"
        )
        parts = []
        for kind, label in (("failures", "error-level"), ("others", "other"), ("all", "")):
            passes = [p for side in (False, True) for p in self.passes[side] if p.kind == kind]
            if not passes:
                continue
            kind_total = sum(p.total for p in passes)
            kind_read = sum(len(p.events) for p in passes)
            words = f"{label} lines".strip()
            if all(p.complete for p in passes):
                parts.append(f"all {fmt_count(kind_read)} {words}")
            else:
                parts.append(
                    f"{fmt_count(kind_read)} of {approx}{fmt_count(kind_total)} {words} ({how})"
                )
        totals = (
            "line totals from Logs Insights are exact"
            if self.exact
            else "totals estimated from the lines' density"
        )
        return (
            f"{self.group}: sampled {fmt_count(read)} of {approx}{fmt_count(total)} lines "
            f"({'; '.join(parts)}; {source}); {totals}, counts of sampled patterns are "
            "scaled (~)"
        )


def fmt_count(value: float) -> str:
    """`540`, `12,345`, `250k`, `1.2M`: counts as a reader takes them in."""
    value = round(value)
    if value >= 999_500:
        return f"{value / 1_000_000:.1f}M"
    if value >= 100_000:
        return f"{value / 1000:.0f}k"
    return f"{value:,}"
