"""X-Ray traces: where requests fail and where their time goes, before and after onset.

`fetch` reads the summaries (a fixed-rate sample of every trace, and every failing or
slow one through a filter expression) and the full documents of a sample of traces,
failing ones first; `segments` turns documents into per-segment durations, HTTP statuses
and exception messages on each side of the onset, each segment tagged with what it is
(a Lambda cold start is not a dependency). This module is the tool.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import Field

from tools.aws import AwsClients, describe_error
from tools.base import TimeRange, Tool, ToolError, ToolInput, ToolResult
from tools.traces.fetch import (
    BATCH,
    MAX_SUMMARIES,
    SAMPLE_PER_SIDE,
    Summaries,
    fetch_documents,
    read_summaries,
    sample_ids,
    trace_time,
)
from tools.traces.segments import (
    LAMBDA_KINDS,
    ROOT_KINDS,
    SegmentChange,
    SegmentStats,
    fmt_ms,
    render,
    segment_changes,
)

__all__ = [
    "BATCH",
    "LAMBDA_KINDS",
    "MAX_SUMMARIES",
    "ROOT_KINDS",
    "SAMPLE_PER_SIDE",
    "Collected",
    "SegmentChange",
    "SegmentStats",
    "TracesInput",
    "TracesTool",
    "analyze",
    "collect",
    "fetch_documents",
    "fmt_ms",
    "sample_ids",
    "segment_changes",
    "trace_time",
]


class TracesInput(ToolInput):
    start: datetime
    end: datetime
    onset: datetime
    t0: datetime | None = None
    services: list[str] = Field(
        default_factory=list, max_length=20, description="X-Ray service names"
    )


class TracesTool(Tool[TracesInput]):
    name = "get_trace_segments"
    description = (
        "X-Ray traces in a time range: failure counts before/after onset, and per segment "
        "(service and AWS operation; Lambda's cold start, handler and extension time named "
        "as such) average duration, failure share, HTTP statuses and the commonest "
        "exception message, on a sample with failing traces first; says what was sampled."
    )
    Input = TracesInput

    def run(self, params: TracesInput) -> ToolResult:
        window = TimeRange(start=params.start, end=params.end, onset=params.onset, t0=params.t0)
        collected = collect(self.aws, window.start, window.end, params.services, params.timeout_s)
        return analyze(collected, window)


@dataclass
class Collected:
    """Trace summaries and a sample of documents, read before the onset is known."""

    rows: list[tuple[str, datetime, bool]]
    documents: list[dict[str, Any]]
    summaries: Summaries = field(default_factory=Summaries)
    unanswered: list[str] = field(default_factory=list)


def collect(
    aws: AwsClients, start: datetime, end: datetime, services: list[str], timeout_s: float = 20
) -> Collected:
    deadline = time.monotonic() + timeout_s
    wanted = [s for s in services if '"' not in s]  # a name cannot break the expression
    try:
        found = read_summaries(aws, start, end, wanted, deadline)
        rows = [(s.id, s.at, s.failed) for s in found.failing]
        rows += [(s.id, s.at, s.failed) for s in found.sampled]
        documents, unanswered = fetch_documents(aws, sample_ids(rows, start, end), deadline)
    except Exception as exc:
        raise ToolError(f"X-Ray failed: {describe_error(exc)}") from exc
    return Collected(rows, documents, found, unanswered)


def counts(collected: Collected, window: TimeRange) -> dict[str, Any]:
    """Traces per side of the onset: totals from the sample (scaled by its rate), failures
    from the filtered read (all of them)."""
    found = collected.summaries
    if not found.sampled and not found.failing:  # built by hand: count the rows
        rows = collected.rows
        found = Summaries(filtered=False)
        totals = {side: sum(1 for r in rows if window.is_recent(r[1]) == side) for side in (0, 1)}
        failed = {
            side: sum(1 for r in rows if window.is_recent(r[1]) == side and r[2]) for side in (0, 1)
        }
    else:
        totals = {
            side: round(sum(s.weight for s in found.sampled if window.is_recent(s.at) == side))
            for side in (0, 1)
        }
        # Every failing trace when the filtered read was whole; else the sample's estimate.
        failed = {
            side: round(
                sum(s.weight for s in found.sampled if s.failed and window.is_recent(s.at) == side)
            )
            if found.failing_cut
            else sum(1 for s in found.failing if s.failed and window.is_recent(s.at) == side)
            for side in (0, 1)
        }
    return {
        "baseline": max(totals[0], failed[0]),
        "recent": max(totals[1], failed[1]),
        "baseline_failed": failed[0],
        "recent_failed": failed[1],
        "sampled": len({d.get("trace_id") for d in collected.documents}),
        "exact": found.rate >= 1 and not found.cut and not found.failing_cut,
    }


def sampling_line(collected: Collected, counts_: dict[str, Any]) -> str:
    """What the evidence says it read of X-Ray."""
    found = collected.summaries
    total = counts_["baseline"] + counts_["recent"]
    failing = counts_["baseline_failed"] + counts_["recent_failed"]
    documents = (
        f"{counts_['sampled']} traces read in full ({len(collected.documents)} segment "
        "documents, failing traces first)"
    )
    if not found.filtered:
        return (
            f"X-Ray: {len(collected.rows):,} trace summaries read unfiltered "
            f"(filter expressions refused here){' and cut' if found.cut else ''}; {documents}"
        )
    if found.rate >= 1:
        about = f"all {total:,} traces"
    else:
        about = (
            f"~{total:,} traces (a {found.rate:.2%} fixed-rate sample of {len(found.sampled):,})"
        )
    slow = f" or slower than {found.slow_s:g}s" if found.slow_s else ""
    if found.failing_cut:
        failing_read = (
            f"the first {len(found.failing):,} failing{slow} traces through a filter expression "
            f"(cut; ~{failing:,} failed, estimated from the sample)"
        )
    else:
        failing_read = (
            f"all {len(found.failing):,} failing{slow} traces through a filter expression "
            f"({failing:,} failed)"
        )
    return f"X-Ray: {about}; {failing_read}; {documents}"


def analyze(collected: Collected, window: TimeRange) -> ToolResult:
    rows, documents = collected.rows, collected.documents
    if not rows:
        return ToolResult(
            TracesTool.name, "- no traces in the window", {"segments": [], "sampling": []}
        )
    counted = counts(collected, window)
    changes = segment_changes(documents, window)
    roots = {
        (str(d.get("name")), str((d.get("annotations") or {}).get("operation", "")))
        for d in documents
        if not d.get("inferred")
    }
    sampling = [sampling_line(collected, counted)]
    notes = list(collected.summaries.notes)
    if collected.unanswered:
        notes.append(f"X-Ray left {len(collected.unanswered)} trace ids unprocessed")
    data = {"segments": changes, "counts": counted, "roots": roots, "sampling": sampling}
    text = render(changes, counted, roots) + "".join(f"\n- read: {line}" for line in sampling)
    return ToolResult(TracesTool.name, text, data, notes)
