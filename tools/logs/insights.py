"""Logs Insights: counts aggregated on the server, then a bounded read of lines per side.

For one group and one window, four kinds of query, all with the window's own times:

- `stats count(*) as lines by bin(1m)` and the same over failure-level lines: exact
  totals, whatever the volume, without reading a line;
- per side of the onset, the failure-level lines (all of them when they fit one query's
  10,000 rows, else the oldest and the newest half), then the other lines the same way.

Every query runs under a deadline: StartQuery and GetQueryResults are retried with
backoff on LimitExceededException and throttling (tenacity), and a query given up on is
stopped with StopQuery, so it does not keep scanning (and billing) after we stopped
waiting.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

from tenacity import (
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_before_delay,
    wait_exponential_jitter,
)

from tools.aws import AwsClients, error_code
from tools.base import TimeRange, ToolError
from tools.logs.sample import INSIGHTS_REGEX, GroupSample, Pass

ROWS = 10_000  # the most rows one Logs Insights query returns
FAILURE_BUDGET = 10_000  # failure-level lines read per side
OTHER_BUDGET = 6_000  # other lines read per side: all of them, or half from each end
RETRIED = {
    "LimitExceededException",  # too many concurrent queries in the account
    "ThrottlingException",
    "TooManyRequestsException",
    "ServiceUnavailableException",
}
DONE = {"Complete", "Failed", "Cancelled", "Timeout", "Unknown"}
Row = dict[str, str]


class QueryFailedError(ToolError):
    """A Logs Insights query that failed or did not finish in time."""


def _retried(exc: BaseException) -> bool:
    return error_code(exc) in RETRIED


def _call(deadline: float, call: Any, **kwargs: Any) -> Any:
    """One API call, retried with jittered backoff on throttling until the deadline."""
    remaining = max(deadline - time.monotonic(), 0.05)
    for attempt in Retrying(
        retry=retry_if_exception(_retried),
        wait=wait_exponential_jitter(multiplier=0.2, max=2.0, jitter=0.2),
        stop=stop_before_delay(remaining) | stop_after_attempt(20),
        reraise=True,
    ):
        with attempt:
            return call(**kwargs)
    raise QueryFailedError("unreachable")  # pragma: no cover - Retrying re-raises


def run_query(
    aws: AwsClients,
    groups: list[str],
    start: datetime,
    end: datetime,
    query: str,
    deadline: float,
    limit: int = ROWS,
) -> list[Row]:
    """Run one query over [start, end) and return its rows; StopQuery on give-up."""
    # One attempt per call: the retry policy is the deadline-bound one above.
    client = aws.client("logs", probe=True)
    started = _call(
        deadline,
        client.start_query,
        logGroupNames=groups,
        startTime=int(start.timestamp()),
        endTime=max(int(end.timestamp()) - 1, int(start.timestamp())),
        queryString=query,
        limit=limit,
    )
    query_id = started["queryId"]
    finished = False
    try:
        pause = 0.05
        while time.monotonic() < deadline:
            answer = _call(deadline, client.get_query_results, queryId=query_id)
            status = answer.get("status")
            if status in DONE:
                finished = True
                if status != "Complete":
                    raise QueryFailedError(f"Logs Insights query {status.lower()}: {query[:80]}")
                return [
                    {col.get("field", ""): col.get("value", "") for col in row}
                    for row in answer.get("results", [])
                ]
            time.sleep(min(pause, max(deadline - time.monotonic(), 0)))
            pause = min(pause * 2, 1.0)
        raise QueryFailedError(f"Logs Insights query did not complete in time: {query[:80]}")
    finally:
        if not finished:
            with contextlib.suppress(Exception):  # best effort: the query may have ended
                client.stop_query(queryId=query_id)


def parse_time(stamp: str) -> int | None:
    """Logs Insights' `2026-11-20 11:47:03.512` -> epoch milliseconds."""
    try:
        at = datetime.strptime(stamp[:23], "%Y-%m-%d %H:%M:%S.%f")
    except ValueError:
        try:
            at = datetime.strptime(stamp[:19], "%Y-%m-%d %H:%M:%S")
        except ValueError:
            return None
    return int(at.replace(tzinfo=UTC).timestamp() * 1000)


def _per_minute(rows: list[Row]) -> dict[int, int]:
    counts: dict[int, int] = {}
    for row in rows:
        minute = parse_time(row.get("minute", ""))
        if minute is not None:
            counts[minute] = counts.get(minute, 0) + int(float(row.get("lines") or 0))
    return counts


def _lines(rows: list[Row]) -> list[tuple[int, str]]:
    events = []
    for row in rows:
        at = parse_time(row.get("@timestamp", ""))
        if at is not None:
            events.append((at, row.get("@message", "")))
    return events


COUNT_ALL = "stats count(*) as lines by bin(1m) as minute"
COUNT_FAILURES = f"filter @message like {INSIGHTS_REGEX} | {COUNT_ALL}"


def _reads(condition: str, total: int, budget: int) -> list[str]:
    """The queries that read the lines matching `condition`: all of them in one query
    when they fit `budget`, else the oldest and the newest half of it."""
    if total <= 0:
        return []
    base = f"fields @timestamp, @message | filter {condition}"
    if total <= min(budget, ROWS):  # totals are per minute: allow for the onset's minute
        return [f"{base} | limit {min(budget, ROWS)}"]
    half = min(budget // 2, ROWS)
    return [
        f"{base} | sort @timestamp asc | limit {half}",
        f"{base} | sort @timestamp desc | limit {half}",
    ]


def insights_group(
    aws: AwsClients,
    group: str,
    span: TimeRange,
    deadline: float,
    onset: Callable[[], TimeRange] | None = None,
) -> GroupSample:
    """One group through Logs Insights: exact totals per minute (while the onset is still
    being found), then every line when they fit one query, else the lines of each side of
    the onset; the queries of each step run at once, as Logs Insights allows."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        counted = list(
            pool.map(
                lambda query: _per_minute(
                    run_query(aws, [group], span.start, span.end, query, deadline)
                ),
                (COUNT_ALL, COUNT_FAILURES),
            )
        )
        everything, failing = counted
        sample = GroupSample(group, "insights")
        if sum(everything.values()) <= ROWS:  # one query reads them all
            rows = run_query(
                aws,
                [group],
                span.start,
                span.end,
                f"fields @timestamp, @message | limit {ROWS}",
                deadline,
            )
            window = onset() if onset else span
            lines = sorted(_lines(rows))
            onset_ms = int(window.onset.timestamp() * 1000)
            for recent in (False, True):
                side = [(t, m) for t, m in lines if (t >= onset_ms) == recent]
                sample.passes[recent] = [Pass("all", side, len(side))]
            return sample
        window = onset() if onset else span
        onset_ms = int(window.onset.timestamp() * 1000)
        plans: list[tuple[bool, str, datetime, datetime, str, int]] = []
        sides = ((False, window.start, window.onset), (True, window.onset, window.end))
        totals: dict[tuple[bool, str], int] = {}
        for recent, start, end in sides:
            if start >= end:
                continue
            # bin(1m) rounds down: the onset's minute counts on the side it starts on.
            in_side = [m for m in everything if (m >= onset_ms) == recent]
            total_all = sum(everything[m] for m in in_side)
            total_failures = sum(n for m, n in failing.items() if (m >= onset_ms) == recent)
            totals[(recent, "failures")] = total_failures
            totals[(recent, "others")] = total_all - total_failures
            for kind, condition, budget in (
                ("failures", f"@message like {INSIGHTS_REGEX}", FAILURE_BUDGET),
                ("others", f"@message not like {INSIGHTS_REGEX}", OTHER_BUDGET),
            ):
                for query in _reads(condition, totals[(recent, kind)], budget):
                    plans.append((recent, kind, start, end, query, budget))
        rows = list(
            pool.map(
                lambda plan: _lines(run_query(aws, [group], plan[2], plan[3], plan[4], deadline)),
                plans,
            )
        )
    read: dict[tuple[bool, str], set[tuple[int, str]]] = {key: set() for key in totals}
    for plan, lines in zip(plans, rows, strict=True):
        read[(plan[0], plan[1])].update(lines)
    for (recent, kind), lines in read.items():
        events = sorted(lines)
        sample.passes[recent].append(Pass(kind, events, max(totals[(recent, kind)], len(events))))
    return sample


def insights_supported(aws: AwsClients, group: str, window: TimeRange) -> bool:
    """Whether the endpoint really runs Logs Insights (an emulator may ignore `stats`).
    Probed once per endpoint: the answer does not change between investigations."""
    known = aws.capabilities.get("logs_insights")
    if known is not None:
        return known
    try:
        rows = run_query(
            aws,
            [group],
            window.start,
            window.end,
            "stats count(*) as n",
            time.monotonic() + 5,
            limit=10,
        )
    except Exception:
        return False  # a failed probe (e.g. a missing group) says nothing yet
    supported = bool(rows) and "n" in rows[0] and len(rows[0]) <= 2
    aws.capabilities["logs_insights"] = supported
    return supported
