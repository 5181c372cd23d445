"""Where a service's spans live, and the aggregation queries that read them.

With CloudWatch Transaction Search on, X-Ray's `GetTraceSegmentDestination` answers
`CloudWatchLogs` and every span is one JSON event in `aws/spans`; `XRay` means the spans
are only X-Ray segments (the traces tool reads those). An endpoint without the call
(an emulator) or a role without the permission leaves one question: does the log group
exist (`DescribeLogGroups`)?

The figures come from Logs Insights aggregations run on each side of the onset, never
from a dump of spans; where the endpoint cannot run Logs Insights, a bounded read of the
events (FilterLogEvents) is aggregated here by the same query strings
(`tools.spans.engine`), and the result says how much was read.
"""

from __future__ import annotations

import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tools.aws import AwsClients, describe_error, error_code
from tools.base import TimeRange, ToolError
from tools.logs.insights import insights_supported, run_query
from tools.spans import engine
from tools.spans.stats import SideStats, fold

DEFAULT_GROUP = "aws/spans"
DESTINATION_WAIT_S = 2.0  # how long X-Ray may take to say where spans go
FALLBACK_EVENTS = 20_000  # spans read per side when Logs Insights is unavailable
ERROR_FILTER = 'status.code = "ERROR" or status.code = 2 or status.code = "STATUS_CODE_ERROR"'
QUERIES: dict[str, str] = {
    "operations": (
        "stats count(*) as spans, pct(durationNano, 50) as p50, pct(durationNano, 95) as p95, "
        "min(@timestamp) as first_seen "
        "by resource.attributes.service.name, name, attributes.gen_ai.operation.name"
    ),
    "status": "stats count(*) as spans by resource.attributes.service.name, name, status.code",
    "models": (
        "filter ispresent(attributes.gen_ai.request.model) "
        "| stats count(*) as calls, sum(attributes.gen_ai.usage.input_tokens) as input_tokens, "
        "sum(attributes.gen_ai.usage.output_tokens) as output_tokens "
        "by attributes.gen_ai.request.model, attributes.gen_ai.response.finish_reasons.0, "
        "attributes.gen_ai.response.finish_reasons, status.code, attributes.error.type"
    ),
    "tools": (
        "filter ispresent(attributes.gen_ai.tool.name) "
        "| stats count(*) as calls by attributes.gen_ai.tool.name, status.code, "
        "attributes.error.type"
    ),
    "steps": (
        'filter attributes.gen_ai.operation.name = "chat" '
        "| stats count(*) as steps by traceId | stats count(*) as traces by steps"
    ),
    "errors": (
        f"filter {ERROR_FILTER} "
        "| stats count(*) as spans, min(@timestamp) as first_seen, "
        "earliest(traceId) as first_trace, latest(traceId) as last_trace "
        "by name, attributes.error.type, events.0.attributes.exception.type, "
        "events.0.attributes.exception.message | sort spans desc | limit 20"
    ),
}


def scoped(query: str, services: list[str]) -> str:
    """The query narrowed to the spans of these `service.name`s."""
    if not services:
        return query
    names = ", ".join(json.dumps(s) for s in services)
    return f"filter resource.attributes.service.name in [{names}] | {query}"


@dataclass
class Location:
    """Where the spans are: the group, and how that was found out."""

    group: str | None
    basis: str


def locate(aws: AwsClients, group: str, catalog_says: bool = False) -> Location:
    """The spans' log group, if any: X-Ray's destination first, else the group itself."""
    try:
        answer = _destination(aws)
    except Exception as exc:
        basis = f"GetTraceSegmentDestination unavailable ({error_code(exc) or describe_error(exc)})"
    else:
        destination = answer.get("Destination", "")
        if destination == "CloudWatchLogs":
            status = answer.get("Status", "")
            return Location(
                group, f"Transaction Search on (X-Ray destination CloudWatchLogs {status})"
            )
        if destination == "XRay" and not catalog_says:
            return Location(None, "Transaction Search off: spans are X-Ray segments only")
        basis = f"X-Ray destination {destination or 'unknown'}"
    try:
        found = aws.client("logs").describe_log_groups(logGroupNamePrefix=group, limit=5)
    except Exception as exc:
        raise ToolError(f"spans log group {group} unreadable: {describe_error(exc)}") from exc
    if any(g.get("logGroupName") == group for g in found.get("logGroups", [])):
        return Location(group, f"{basis}; log group {group} exists")
    return Location(None, f"{basis}; no log group {group}")


def _destination(aws: AwsClients, wait_s: float = DESTINATION_WAIT_S) -> dict:
    """X-Ray's answer, or TimeoutError when X-Ray is slower than `wait_s`: the question
    only saves a lookup, so a hanging X-Ray must not hold the spans up (the call is left
    to finish on a daemon thread)."""
    answer: list[Any] = []
    done = threading.Event()

    def ask() -> None:
        try:
            answer.append(aws.client("xray", probe=True).get_trace_segment_destination())
        except Exception as exc:
            answer.append(exc)
        done.set()

    threading.Thread(target=ask, daemon=True, name="spans-destination").start()
    if not done.wait(wait_s):
        raise TimeoutError(f"no answer within {wait_s:.0f}s")
    if isinstance(answer[0], Exception):
        raise answer[0]
    return answer[0]


@dataclass
class Read:
    """Both sides' figures and what was read to get them."""

    sides: dict[bool, SideStats]
    path: str  # insights | filter
    sampling: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _sides(window: TimeRange) -> list[tuple[bool, datetime, datetime]]:
    return [(False, window.start, window.onset), (True, window.onset, window.end)]


def read_insights(
    aws: AwsClients, group: str, window: TimeRange, services: list[str], deadline: float
) -> Read:
    """Every query on each side at once, under one deadline (StopQuery on give-up)."""
    sides = {
        recent: SideStats(max((end - start).total_seconds(), 1.0) / 60)
        for recent, start, end in _sides(window)
    }
    plans = [
        (recent, start, end, kind, scoped(query, services))
        for recent, start, end in _sides(window)
        if start < end
        for kind, query in QUERIES.items()
    ]

    def one(plan: tuple[bool, datetime, datetime, str, str]) -> list[dict[str, str]] | str:
        try:
            return run_query(aws, [group], plan[1], plan[2], plan[4], deadline, 1000)
        except Exception as exc:  # one query failing leaves the others' figures
            return describe_error(exc)

    with ThreadPoolExecutor(max_workers=6, thread_name_prefix="spans") as pool:
        answers = list(pool.map(one, plans))
    read = Read(sides, "insights")
    failed: dict[str, str] = {}
    for plan, rows in zip(plans, answers, strict=True):
        if isinstance(rows, str):
            failed.setdefault(plan[3], rows)
        else:
            fold(sides[plan[0]], plan[3], rows)
    for recent, _, end in _sides(window):
        sides[recent].trim_to_first_span(int(end.timestamp() * 1000))
    if plans and len(failed) == len(QUERIES):
        raise ToolError(f"span queries failed: {next(iter(failed.values()))}")
    read.notes += [f"span query {kind} failed: {why}" for kind, why in failed.items()]
    return read


def read_filtered(
    aws: AwsClients, group: str, window: TimeRange, services: list[str], deadline: float
) -> Read:
    """A bounded read of each side's events, aggregated here by the same queries."""
    client = aws.client("logs")
    parsed = {kind: engine.parse(scoped(q, services)) for kind, q in QUERIES.items()}
    read = Read({}, "filter")
    for recent, start, end in _sides(window):
        side = SideStats(max((end - start).total_seconds(), 1.0) / 60)
        read.sides[recent] = side
        if start >= end:
            continue
        events, more = [], True
        kwargs = {
            "logGroupName": group,
            "startTime": int(start.timestamp() * 1000),
            "endTime": int(end.timestamp() * 1000) - 1,
        }
        while more and len(events) < FALLBACK_EVENTS and time.monotonic() < deadline:
            page = client.filter_log_events(**kwargs)
            events += [
                engine.event_fields(e["timestamp"], e["message"]) for e in page.get("events", [])
            ]
            more = bool(page.get("nextToken"))
            kwargs["nextToken"] = page.get("nextToken", "")
        label = "since onset" if recent else "before onset"
        if more:
            read.sampling.append(
                f"{group}: first {len(events)} spans {label} read (FilterLogEvents; Logs "
                "Insights unavailable): figures cover those only"
            )
        for kind, query in parsed.items():
            fold(side, kind, engine.run(query, events))
        side.trim_to_first_span(int(end.timestamp() * 1000))
    return read


def read_spans(
    aws: AwsClients, group: str, window: TimeRange, services: list[str], deadline: float
) -> Read:
    """Logs Insights where the endpoint runs it, else the bounded read."""
    if insights_supported(aws, group, window):
        return read_insights(aws, group, window, services, deadline)
    found = read_filtered(aws, group, window, services, deadline)
    found.notes.append("Logs Insights unavailable: spans aggregated from a FilterLogEvents read")
    return found
