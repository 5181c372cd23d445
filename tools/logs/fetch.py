"""Fetching a service's log lines: Logs Insights where the endpoint really runs it, else
FilterLogEvents, page by page, groups in parallel, clustered while pages download.

Both paths yield the same `Fetched` lines, so the evidence does not depend on which ran.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tools.aws import AwsClients, describe_error
from tools.base import TimeRange, ToolError
from tools.logs.patterns import Clusterer

MAX_EVENTS_PER_GROUP = 60_000


def filter_pages(
    aws: AwsClients, group: str, window: TimeRange, pattern: str | None = None
) -> Iterator[tuple[list[tuple[int, str]], bool]]:
    """FilterLogEvents over the window, page by page, up to MAX_EVENTS_PER_GROUP lines;
    each page comes with whether the cap cut the fetch short after it."""
    client = aws.client("logs")
    kwargs: dict[str, Any] = {
        "logGroupName": group,
        "startTime": int(window.start.timestamp() * 1000),
        "endTime": int(window.end.timestamp() * 1000),
        "limit": 10_000,
    }
    if pattern:
        kwargs["filterPattern"] = pattern
    seen = 0
    while True:
        page = client.filter_log_events(**kwargs)
        events = [(e["timestamp"], e.get("message", "")) for e in page.get("events", [])]
        seen += len(events)
        token = page.get("nextToken")
        capped = bool(token) and seen >= MAX_EVENTS_PER_GROUP
        yield events, capped
        if not token or capped:
            return
        kwargs["nextToken"] = token


def filter_events(
    aws: AwsClients, group: str, window: TimeRange, pattern: str | None = None
) -> tuple[list[tuple[int, str]], bool]:
    """FilterLogEvents over the window; returns events and whether the cap cut them."""
    events: list[tuple[int, str]] = []
    capped = False
    for page, cut in filter_pages(aws, group, window, pattern):
        events += page
        capped = cut
    return events, capped


def insights_supported(aws: AwsClients, group: str, window: TimeRange) -> bool:
    """Whether the endpoint really runs Logs Insights (an emulator may ignore `stats`).
    Probed once per endpoint: the answer does not change between investigations."""
    known = aws.capabilities.get("logs_insights")
    if known is not None:
        return known
    rows = _insights(aws, [group], window, "stats count(*) as n", limit=10, timeout_s=5)
    supported = (
        rows is not None
        and any(any(col.get("field") == "n" for col in row) for row in rows[:1])
        and all(len(row) <= 2 for row in rows[:1])
    )
    if rows is not None:  # a failed probe (e.g. a missing group) says nothing yet
        aws.capabilities["logs_insights"] = supported
    return supported


def _insights(
    aws: AwsClients, groups: list[str], window: TimeRange, query: str, limit: int, timeout_s: float
) -> list[list[dict[str, str]]] | None:
    client = aws.client("logs", probe=True)
    try:
        started = client.start_query(
            logGroupNames=groups,
            startTime=int(window.start.timestamp()),
            endTime=int(window.end.timestamp()),
            queryString=query,
            limit=limit,
        )
    except Exception:
        return None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        answer = client.get_query_results(queryId=started["queryId"])
        if answer.get("status") in ("Complete", "Failed", "Cancelled", "Timeout"):
            return answer.get("results", []) if answer["status"] == "Complete" else None
        time.sleep(0.5)
    return None


def insights_events(
    aws: AwsClients, group: str, window: TimeRange, timeout_s: float
) -> tuple[list[tuple[int, str]], bool]:
    """Raw lines through Logs Insights (10,000 per query: the query's own limit)."""
    rows = _insights(
        aws,
        [group],
        window,
        "fields @timestamp, @message | sort @timestamp desc | limit 10000",
        limit=10_000,
        timeout_s=timeout_s,
    )
    if rows is None:
        raise ToolError(f"Logs Insights query on {group} did not complete")
    events = []
    for row in rows:
        values = {col.get("field"): col.get("value", "") for col in row}
        stamp = values.get("@timestamp", "")
        try:
            at = datetime.strptime(stamp[:23], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
        except ValueError:
            continue
        events.append((int(at.timestamp() * 1000), values.get("@message", "")))
    events.sort()
    return events, len(rows) >= 10_000


@dataclass
class Fetched:
    """Lines of several log groups, fetched (and clustered) before the onset is known."""

    path: str
    events: dict[str, list[tuple[int, str]]] = field(default_factory=dict)
    clusters: dict[str, Clusterer] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


def _fetch_and_cluster(
    aws: AwsClients, group: str, span: TimeRange, filter_pattern: str | None
) -> tuple[list[tuple[int, str]], bool, Clusterer]:
    """Pages are clustered on a second thread while the next page is on the wire."""
    clusterer = Clusterer(group)
    pages: queue.Queue[list[tuple[int, str]] | None] = queue.Queue(maxsize=4)
    worker = threading.Thread(
        target=lambda: [clusterer.add(page) for page in iter(pages.get, None)], daemon=True
    )
    worker.start()
    events: list[tuple[int, str]] = []
    capped = False
    try:
        for page, cut in filter_pages(aws, group, span, filter_pattern):
            events += page
            capped = cut
            pages.put(page)
    finally:
        pages.put(None)
        worker.join()
    return events, capped, clusterer


def fetch_groups(
    aws: AwsClients,
    groups: list[str],
    span: TimeRange,
    filter_pattern: str | None = None,
    timeout_s: float = 20.0,
) -> Fetched:
    """Every group's lines over the span, groups in parallel; a failing group is noted."""
    use_insights = filter_pattern is None and insights_supported(aws, groups[0], span)
    fetched = Fetched(path="insights" if use_insights else "filter")

    def one(group: str) -> tuple[list[tuple[int, str]], bool, Clusterer]:
        if use_insights:
            events, capped = insights_events(aws, group, span, timeout_s)
            return events, capped, Clusterer(group).add(events)
        return _fetch_and_cluster(aws, group, span, filter_pattern)

    with ThreadPoolExecutor(max_workers=min(4, len(groups))) as pool:
        futures = {group: pool.submit(one, group) for group in groups}
    for group, future in futures.items():
        try:
            events, capped, clusterer = future.result()
        except Exception as exc:  # one group failing must not hide the others
            fetched.failures.append(f"{group}: {describe_error(exc)}")
            continue
        if capped:
            fetched.notes.append(f"{group}: more lines than {len(events)}; counts are a sample")
        fetched.events[group] = events
        fetched.clusters[group] = clusterer
    return fetched
