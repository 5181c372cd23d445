"""X-Ray segment documents into per-segment changes across the onset, each marked with
what it is.

A Lambda trace is not a tree of dependencies: beside the function's segment
(`origin: AWS::Lambda::Function`) there is the Lambda service's own
(`origin: AWS::Lambda`), and the function's subsegments `Initialization` (the cold
start), `Invocation` (the handler), `Overhead` (extensions after the response) and, on
the service segment, `Attempt #N` (retries of an asynchronous invocation) and
`Dwell Time` (queueing). Calls the handler makes are subsegments of `Invocation`. X-Ray
also adds inferred segments (`"inferred": true`) that mirror a downstream call already
seen as a subsegment. Each segment is tagged with its `kind`, so that none of these is
taken for a dependency, and inferred ones are not counted twice.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tools.base import TimeRange

# Subsegment names Lambda writes, and what they are.
LAMBDA_PARTS = {
    "Initialization": "cold_start",
    "Restore": "cold_start",  # SnapStart restoring a snapshot instead of an init
    "Invocation": "handler",
    "Overhead": "extension",
    "Dwell Time": "queue",
}
LAMBDA_KINDS = frozenset({"cold_start", "handler", "extension", "retry", "queue"})
ROOT_KINDS = frozenset({"root", "function", "lambda_service"})
_LAMBDA_ORIGINS = {"AWS::Lambda": "lambda_service", "AWS::Lambda::Function": "function"}


@dataclass
class SegmentStats:
    """One segment name (a service or an AWS operation) on one side of the onset."""

    durations: list[float] = field(default_factory=list)
    faults: int = 0
    errors: int = 0
    throttles: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    messages: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return len(self.durations)

    @property
    def failed(self) -> int:
        return self.faults + self.errors

    @property
    def mean_ms(self) -> float:
        return statistics.fmean(self.durations) * 1000 if self.durations else 0.0


@dataclass
class SegmentChange:
    name: str
    service: str
    operation: str
    baseline: SegmentStats
    recent: SegmentStats
    kind: str = "call"  # root | function | lambda_service | cold_start | handler | ... | call

    def failure_rates(self) -> tuple[float, float]:
        return (
            self.baseline.failed / self.baseline.count if self.baseline.count else 0.0,
            self.recent.failed / self.recent.count if self.recent.count else 0.0,
        )

    @property
    def label(self) -> str:
        label = f"{self.service}.{self.operation}" if self.operation else self.name
        if self.kind in LAMBDA_KINDS:
            return f"{label} ({self.kind.replace('_', ' ')})"
        if self.kind == "lambda_service":
            return f"{label} (Lambda service)"
        return label

    def line(self) -> str:
        before, after = self.failure_rates()
        if self.baseline.count:
            timing = f"{fmt_ms(self.baseline.mean_ms)} -> {fmt_ms(self.recent.mean_ms)} avg"
            failing = f"failed {before:.0%} -> {after:.0%}"
        else:  # nothing read before the onset: a change cannot be claimed
            timing = f"{fmt_ms(self.recent.mean_ms)} avg since onset (no trace of it before)"
            failing = f"failed {after:.0%} since onset"
        parts = [f"{self.label}: {timing}", failing]
        if self.recent.throttles:
            parts.append(f"throttled {self.recent.throttles}/{self.recent.count}")
        if self.recent.statuses:
            codes = ", ".join(f"{k} x{v}" for k, v in sorted(self.recent.statuses.items()))
            parts.append(f"HTTP {codes}")
        if self.recent.messages:
            message, count = max(self.recent.messages.items(), key=lambda item: item[1])
            parts.append(f'exception "{message[:160]}" x{count}')
        return "; ".join(parts)


def fmt_ms(value: float) -> str:
    return f"{value / 1000:.1f}s" if value >= 1000 else f"{value:.0f}ms"


def _record(stats: SegmentStats, document: dict[str, Any]) -> None:
    start, end = document.get("start_time"), document.get("end_time")
    if isinstance(start, int | float) and isinstance(end, int | float):
        stats.durations.append(max(0.0, end - start))
    stats.faults += bool(document.get("fault"))
    stats.errors += bool(document.get("error")) and not document.get("throttle")
    stats.throttles += bool(document.get("throttle"))
    status = (document.get("http") or {}).get("response", {}).get("status")
    if isinstance(status, int) and status >= 400:
        stats.statuses[status] = stats.statuses.get(status, 0) + 1
    for exception in (document.get("cause") or {}).get("exceptions", []) or []:
        message = str(exception.get("message") or exception.get("type") or "")[:300]
        if message:
            stats.messages[message] = stats.messages.get(message, 0) + 1


def top_kind(document: dict[str, Any]) -> str:
    """What a segment document (a top-level segment of a trace) is."""
    if document.get("inferred"):
        return "inferred"
    return _LAMBDA_ORIGINS.get(str(document.get("origin", "")), "root")


def sub_kind(sub: dict[str, Any], parent_kind: str) -> str:
    """What a subsegment is: a part of Lambda's own work, or a call the code makes."""
    name = str(sub.get("name", ""))
    if parent_kind in ("function", "lambda_service"):
        if name in LAMBDA_PARTS:
            return LAMBDA_PARTS[name]
        if name.startswith("Attempt #"):
            return "retry"
    return "call"


def _walk(subsegments: list[dict[str, Any]], parent_kind: str) -> Iterator[tuple[dict, str]]:
    for sub in subsegments or []:
        kind = sub_kind(sub, parent_kind)
        yield sub, kind
        yield from _walk(sub.get("subsegments", []), "call")


def segment_changes(documents: list[dict[str, Any]], window: TimeRange) -> list[SegmentChange]:
    """Top-level segments and their subsegments, grouped by name, kind and side of the
    onset; inferred segments are left out (their call is already a subsegment)."""
    sides: dict[tuple[str, str, str, str], dict[bool, SegmentStats]] = defaultdict(
        lambda: {False: SegmentStats(), True: SegmentStats()}
    )
    for root in documents:
        begun = root.get("start_time")
        kind = top_kind(root)
        if not isinstance(begun, int | float) or kind == "inferred":
            continue
        recent = window.is_recent(datetime.fromtimestamp(begun, UTC))
        operation = str((root.get("annotations") or {}).get("operation", ""))
        name = str(root.get("name", "?"))
        _record(sides[(name, name, operation, kind)][recent], root)
        for sub, sub_kind_ in _walk(root.get("subsegments", []), kind):
            service = str((sub.get("annotations") or {}).get("service") or sub.get("name", "?"))
            op = str((sub.get("aws") or {}).get("operation", ""))
            _record(sides[(str(sub.get("name", "?")), service, op, sub_kind_)][recent], sub)
    return [
        SegmentChange(name, service, op, stats[False], stats[True], kind)
        for (name, service, op, kind), stats in sides.items()
    ]


def render(
    changes: list[SegmentChange], counts: dict[str, Any], roots: set[tuple[str, str]]
) -> str:
    about = "" if counts.get("exact", True) else "~"
    lines = [
        f"- traces: {about}{counts['baseline']} before onset ({counts['baseline_failed']} failed), "
        f"{about}{counts['recent']} since ({counts['recent_failed']} failed); "
        f"sampled {counts['sampled']}"
    ]

    def weight(change: SegmentChange) -> float:
        before, after = change.failure_rates()
        slower = change.recent.mean_ms - change.baseline.mean_ms if change.baseline.count else 0
        return (after - before) * 10_000 + max(slower, 0)

    ordered = sorted(changes, key=weight, reverse=True)
    for change in ordered[:8]:
        kind = "root" if (change.name, change.operation) in roots else "segment"
        lines.append(f"- {kind} {change.line()}")
    return "\n".join(lines)
