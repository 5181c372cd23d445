"""X-Ray traces: where requests fail and where their time goes, before and after onset.

Summaries give the failure flags of every trace; the full documents of a sample
(failing ones first) give per-segment durations, HTTP statuses and exception
messages. Filters are applied here, not with a `FilterExpression`, so the same
code works where the endpoint refuses expressions.
"""

from __future__ import annotations

import json
import random
import statistics
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from tools.aws import AwsClients, describe_error
from tools.base import TimeRange, Tool, ToolError, ToolInput, ToolResult

BATCH = 5  # BatchGetTraces takes at most five ids
SAMPLE_PER_SIDE = 60
MAX_SUMMARIES = 5000


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

    def failure_rates(self) -> tuple[float, float]:
        return (
            self.baseline.failed / self.baseline.count if self.baseline.count else 0.0,
            self.recent.failed / self.recent.count if self.recent.count else 0.0,
        )

    def line(self) -> str:
        before, after = self.failure_rates()
        label = f"{self.service}.{self.operation}" if self.operation else self.name
        parts = [
            f"{label}: {fmt_ms(self.baseline.mean_ms)} -> {fmt_ms(self.recent.mean_ms)} avg",
            f"failed {before:.0%} -> {after:.0%}",
        ]
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


def trace_time(trace_id: str) -> datetime | None:
    """X-Ray trace ids carry their start epoch: `1-<8 hex seconds>-<24 hex>`."""
    parts = trace_id.split("-")
    if len(parts) != 3:
        return None
    try:
        return datetime.fromtimestamp(int(parts[1], 16), UTC)
    except (ValueError, OverflowError):
        return None


def summaries(aws: AwsClients, window: TimeRange) -> list[dict[str, Any]]:
    client = aws.client("xray")
    kwargs: dict[str, Any] = {"StartTime": window.start, "EndTime": window.end, "Sampling": False}
    found: list[dict[str, Any]] = []
    while len(found) < MAX_SUMMARIES:
        page = client.get_trace_summaries(**kwargs)
        found += page.get("TraceSummaries", [])
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    return found


def _belongs(summary: dict[str, Any], services: set[str]) -> bool:
    if not services:
        return True
    names = {s.get("Name") for s in summary.get("ServiceIds", [])}
    entry = summary.get("EntryPoint", {}).get("Name")
    return bool((names | {entry}) & services) or (not names and entry is None)


def sample_ids(
    rows: list[tuple[str, datetime, bool]],
    start: datetime,
    end: datetime,
    buckets: int = 6,
    seed: int = 7,
) -> list[str]:
    """Failing traces first, then a seeded random sample, in each of a few time slices,
    so both sides of an onset found later are represented."""
    chosen: list[str] = []
    rng = random.Random(seed)  # noqa: S311 - sampling, not security
    span = max((end - start).total_seconds(), 1.0)
    per_bucket = (2 * SAMPLE_PER_SIDE) // buckets
    for bucket in range(buckets):
        inside = [
            r
            for r in rows
            if int((r[1] - start).total_seconds() * buckets / span) == bucket
            or (bucket == buckets - 1 and r[1] >= end)
        ]
        failing = [r[0] for r in inside if r[2]]
        healthy = [r[0] for r in inside if not r[2]]
        pick = failing[: per_bucket // 2]
        rng.shuffle(healthy)
        pick += healthy[: per_bucket - len(pick)]
        chosen += pick
    return chosen


def fetch_documents(aws: AwsClients, ids: list[str], workers: int = 8) -> list[dict[str, Any]]:
    client = aws.client("xray")
    batches = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]

    def one(batch: list[str]) -> list[dict[str, Any]]:
        documents = []
        for trace in client.batch_get_traces(TraceIds=batch).get("Traces", []):
            for segment in trace.get("Segments", []):
                documents.append(json.loads(segment["Document"]))
        return documents

    if not batches:
        return []
    with ThreadPoolExecutor(max_workers=min(workers, len(batches))) as pool:
        return [doc for docs in pool.map(one, batches) for doc in docs]


def _record(stats: SegmentStats, document: dict[str, Any]) -> None:
    start, end = document.get("start_time"), document.get("end_time")
    if isinstance(start, int | float) and isinstance(end, int | float):
        stats.durations.append(max(0.0, end - start))
    stats.faults += bool(document.get("fault"))
    stats.errors += bool(document.get("error")) and not document.get("throttle")
    stats.throttles += bool(document.get("throttle"))
    status = document.get("http", {}).get("response", {}).get("status")
    if isinstance(status, int) and status >= 400:
        stats.statuses[status] = stats.statuses.get(status, 0) + 1
    for exception in document.get("cause", {}).get("exceptions", []) or []:
        message = str(exception.get("message") or exception.get("type") or "")[:300]
        if message:
            stats.messages[message] = stats.messages.get(message, 0) + 1


def segment_changes(documents: list[dict[str, Any]], window: TimeRange) -> list[SegmentChange]:
    """Root segments and their subsegments, grouped by name and side of the onset."""
    sides: dict[tuple[str, str, str], dict[bool, SegmentStats]] = defaultdict(
        lambda: {False: SegmentStats(), True: SegmentStats()}
    )
    for root in documents:
        begun = root.get("start_time")
        if not isinstance(begun, int | float):
            continue
        recent = window.is_recent(datetime.fromtimestamp(begun, UTC))
        operation = str(root.get("annotations", {}).get("operation", ""))
        root_key = (str(root.get("name", "?")), str(root.get("name", "?")), operation)
        _record(sides[root_key][recent], root)
        for sub in _walk(root.get("subsegments", [])):
            service = str(sub.get("annotations", {}).get("service") or sub.get("name", "?"))
            op = str(sub.get("aws", {}).get("operation", ""))
            key = (str(sub.get("name", "?")), service, op)
            _record(sides[key][recent], sub)
    return [
        SegmentChange(name, service, op, stats[False], stats[True])
        for (name, service, op), stats in sides.items()
    ]


def _walk(subsegments: list[dict[str, Any]]):
    for sub in subsegments or []:
        yield sub
        yield from _walk(sub.get("subsegments", []))


class TracesInput(ToolInput):
    start: datetime
    end: datetime
    onset: datetime
    t0: datetime | None = None
    services: list[str] = Field(default_factory=list, max_length=20)


def render(
    changes: list[SegmentChange], counts: dict[str, int], roots: set[tuple[str, str]]
) -> str:
    lines = [
        f"- traces: {counts['baseline']} before onset ({counts['baseline_failed']} failed), "
        f"{counts['recent']} since ({counts['recent_failed']} failed); "
        f"sampled {counts['sampled']}"
    ]

    def weight(change: SegmentChange) -> float:
        before, after = change.failure_rates()
        slower = change.recent.mean_ms - change.baseline.mean_ms
        return (after - before) * 10_000 + max(slower, 0)

    ordered = sorted(changes, key=weight, reverse=True)
    for change in ordered[:8]:
        kind = "root" if (change.name, change.operation) in roots else "segment"
        lines.append(f"- {kind} {change.line()}")
    return "\n".join(lines)


class TracesTool(Tool[TracesInput]):
    name = "get_trace_segments"
    description = (
        "X-Ray traces in a time range: failure counts before/after onset, and per segment "
        "(service and AWS operation) average duration, failure share, HTTP statuses and "
        "the commonest exception message, on a sample with failing traces first."
    )
    Input = TracesInput

    def run(self, params: TracesInput) -> ToolResult:
        window = TimeRange(start=params.start, end=params.end, onset=params.onset, t0=params.t0)
        return analyze(collect(self.aws, window.start, window.end, params.services), window)


@dataclass
class Collected:
    """Trace summaries and a sample of documents, fetched before the onset is known."""

    rows: list[tuple[str, datetime, bool]]
    documents: list[dict[str, Any]]


def collect(aws: AwsClients, start: datetime, end: datetime, services: list[str]) -> Collected:
    try:
        span = TimeRange(start=start, end=end, onset=end)
        rows = []
        for summary in summaries(aws, span):
            if not _belongs(summary, set(services)):
                continue
            at = trace_time(summary.get("Id", ""))
            if at is None:
                continue
            failed = bool(
                summary.get("HasFault") or summary.get("HasError") or summary.get("HasThrottle")
            )
            rows.append((summary["Id"], at, failed))
        documents = fetch_documents(aws, sample_ids(rows, start, end))
    except Exception as exc:
        raise ToolError(f"X-Ray failed: {describe_error(exc)}") from exc
    return Collected(rows, documents)


def analyze(collected: Collected, window: TimeRange) -> ToolResult:
    rows, documents = collected.rows, collected.documents
    if not rows:
        return ToolResult(TracesTool.name, "- no traces in the window", {"segments": []})
    counts = {
        "baseline": sum(1 for r in rows if not window.is_recent(r[1])),
        "recent": sum(1 for r in rows if window.is_recent(r[1])),
        "baseline_failed": sum(1 for r in rows if not window.is_recent(r[1]) and r[2]),
        "recent_failed": sum(1 for r in rows if window.is_recent(r[1]) and r[2]),
        "sampled": len(documents),
    }
    changes = segment_changes(documents, window)
    roots = {
        (str(d.get("name")), str(d.get("annotations", {}).get("operation", ""))) for d in documents
    }
    data = {"segments": changes, "counts": counts, "roots": roots}
    return ToolResult(TracesTool.name, render(changes, counts, roots), data)
