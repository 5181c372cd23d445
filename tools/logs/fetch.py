"""Reading a service's log groups: Logs Insights where the endpoint runs it, else
FilterLogEvents, each side of the onset on its own and every group in parallel.

Both paths yield a `GroupSample` per group (`tools.logs.sample`): the failure-level lines
of each side (all of them, or both ends of them), then a bounded sample of the others, so
neither the baseline before the onset nor the lines since it can be crowded out by the
other. FilterLogEvents has no totals, so on that path each side is read in time slices
and a slice that holds more than its share is extrapolated from its lines' density.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tools.aws import AwsClients, describe_error
from tools.base import TimeRange
from tools.logs.insights import insights_group, insights_supported
from tools.logs.sample import FILTER_PATTERN, GroupSample, Pass, is_failure

MAX_EVENTS = 60_000  # `filter_events`: lines read of one group by the callers that need all
PAGE = 10_000  # FilterLogEvents' own page limit
SLICES = 4  # time slices per side on the FilterLogEvents path
WHOLE_WINDOW = 30_000  # a group with no more lines in the window is read whole, at once
WHOLE_SIDE = 20_000  # a side with no more lines than this is read whole
Onset = Callable[[], TimeRange]  # the window once its onset is known
FAILURE_BUDGET = 5_000  # failure-level lines read per side
OTHER_BUDGET = 8_000  # other lines read per side, spread over the slices
Event = tuple[int, str]


def _ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)


def filter_pages(
    aws: AwsClients,
    group: str,
    start_ms: int,
    end_ms: int,
    pattern: str | None = None,
    deadline: float | None = None,
) -> Iterator[list[Event]]:
    """FilterLogEvents over [start_ms, end_ms), page by page, oldest first."""
    client = aws.client("logs")
    kwargs: dict[str, Any] = {
        "logGroupName": group,
        "startTime": start_ms,
        "endTime": max(end_ms - 1, start_ms),
        "limit": PAGE,
    }
    if pattern:
        kwargs["filterPattern"] = pattern
    while deadline is None or time.monotonic() < deadline:
        page = client.filter_log_events(**kwargs)
        yield [(e["timestamp"], e.get("message", "")) for e in page.get("events", [])]
        token = page.get("nextToken")
        if not token or token == kwargs.get("nextToken"):
            return
        kwargs["nextToken"] = token


def filter_events(
    aws: AwsClients, group: str, window: TimeRange, pattern: str | None = None
) -> tuple[list[Event], bool]:
    """Every line of the window, oldest first, up to MAX_EVENTS; and whether it was cut.
    For small groups read whole (a trail's log group, an invocation log)."""
    events: list[Event] = []
    for page in filter_pages(aws, group, _ms(window.start), _ms(window.end), pattern):
        events += page
        if len(events) >= MAX_EVENTS:
            return events[:MAX_EVENTS], True
    return events, False


@dataclass
class SliceRead:
    """Lines read from the start of one time slice, and how many the slice holds."""

    start_ms: int
    end_ms: int
    events: list[Event]
    exhausted: bool

    @property
    def total(self) -> float:
        """All lines of the slice when read to its end; else its lines' density over the
        part read, extrapolated to the whole slice."""
        if self.exhausted or not self.events:
            return float(len(self.events))
        covered = max(self.events[-1][0] - self.start_ms + 1, 1)
        return len(self.events) * (self.end_ms - self.start_ms) / covered


def read_slice(
    aws: AwsClients,
    group: str,
    start_ms: int,
    end_ms: int,
    pattern: str | None,
    want: int,
    deadline: float,
) -> SliceRead:
    events: list[Event] = []
    for page in filter_pages(aws, group, start_ms, end_ms, pattern, deadline):
        events += page
        if len(events) >= want:
            return SliceRead(start_ms, end_ms, events[:want], False)
    return SliceRead(start_ms, end_ms, events, time.monotonic() < deadline)


def _slices(start_ms: int, end_ms: int, count: int) -> list[tuple[int, int]]:
    step = max((end_ms - start_ms) // count, 1)
    edges = [start_ms + i * step for i in range(count)] + [end_ms]
    return [(a, b) for a, b in itertools.pairwise(edges) if a < b]


def _filter_side(
    aws: AwsClients,
    group: str,
    start_ms: int,
    end_ms: int,
    deadline: float,
    pool: ThreadPoolExecutor,
) -> list[Pass]:
    """One side: whole when it is small; else failure-level lines through a filter pattern
    first, then the other lines from the start of each time slice."""
    whole = read_slice(aws, group, start_ms, end_ms, None, WHOLE_SIDE, deadline)
    if whole.exhausted:
        return [Pass("all", whole.events, len(whole.events))]
    passes: list[Pass] = []
    failures: list[Event] | None = None
    if aws.capabilities.get("logs_filter_regex") is not False:
        found = read_slice(aws, group, start_ms, end_ms, FILTER_PATTERN, FAILURE_BUDGET, deadline)
        if found.events and not all(is_failure(m) for _, m in found.events):
            aws.capabilities["logs_filter_regex"] = False  # the endpoint ignored the pattern
        else:
            aws.capabilities.setdefault("logs_filter_regex", True)
            failures = found.events
            passes.append(Pass("failures", failures, found.total, exact=found.exhausted))
    want = (OTHER_BUDGET if failures is not None else OTHER_BUDGET + FAILURE_BUDGET) // SLICES
    reads = list(
        pool.map(
            lambda edges: read_slice(aws, group, *edges, None, want, deadline),
            _slices(start_ms, end_ms, SLICES),
        )
    )
    for read in reads:
        if failures is None:
            passes.append(Pass("all", read.events, read.total, exact=read.exhausted))
            continue
        others = [(t, m) for t, m in read.events if not is_failure(m)]
        failing_here = sum(1 for t, _ in failures if read.start_ms <= t < read.end_ms)
        weight = passes[0].weight
        total = max(read.total - failing_here * weight, len(others))
        passes.append(Pass("others", others, total, exact=read.exhausted))
    return passes


def split(sample: GroupSample, events: list[Event], onset_ms: int, kind: str = "all") -> None:
    """Lines read whole, put on their side of the onset as complete passes."""
    for recent in (False, True):
        side = [(t, m) for t, m in events if (t >= onset_ms) == recent]
        sample.passes[recent] = [Pass(kind, side, len(side))]


def filter_group(
    aws: AwsClients, group: str, span: TimeRange, deadline: float, onset: Onset
) -> GroupSample:
    """A group that fits WHOLE_WINDOW lines is read whole while the onset is still being
    found; a busier one is read side by side once it is known."""
    sample = GroupSample(group, "filter")
    whole = read_slice(aws, group, _ms(span.start), _ms(span.end), None, WHOLE_WINDOW, deadline)
    window = onset()
    if whole.exhausted:
        split(sample, whole.events, _ms(window.onset))
        return sample
    edge = _ms(window.onset)
    sides = ((False, _ms(window.start), edge), (True, edge, _ms(window.end)))
    with (
        ThreadPoolExecutor(max_workers=2) as side_pool,
        ThreadPoolExecutor(max_workers=2 * SLICES) as pool,
    ):
        reads = {
            recent: side_pool.submit(_filter_side, aws, group, start_ms, end_ms, deadline, pool)
            for recent, start_ms, end_ms in sides
            if start_ms < end_ms
        }
        for recent, future in reads.items():
            sample.passes[recent] = future.result()
    if time.monotonic() >= deadline:
        sample.problems.append(f"{group}: reading stopped at the deadline; counts are partial")
    return sample


def pattern_group(
    aws: AwsClients, group: str, window: TimeRange, pattern: str, deadline: float
) -> GroupSample:
    """Lines matching a caller's filter pattern, both sides, from the start of each."""
    sample = GroupSample(group, "filter")
    onset = _ms(window.onset)
    sides = ((False, _ms(window.start), onset), (True, onset, _ms(window.end)))
    for recent, start_ms, end_ms in sides:
        if start_ms < end_ms:
            read = read_slice(aws, group, start_ms, end_ms, pattern, FAILURE_BUDGET, deadline)
            sample.passes[recent] = [Pass("all", read.events, read.total, exact=read.exhausted)]
    return sample


@dataclass
class Fetched:
    """What was read of several log groups for one window."""

    path: str
    samples: dict[str, GroupSample] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    @property
    def events(self) -> dict[str, list[Event]]:
        return {group: sample.events for group, sample in self.samples.items()}

    @property
    def notes(self) -> list[str]:
        return [p for sample in self.samples.values() for p in sample.problems]

    def sampling(self) -> list[str]:
        """One line per group saying what was read: carried into the evidence."""
        return [sample.statement() for sample in self.samples.values()]


def fetch_groups(
    aws: AwsClients,
    groups: list[str],
    window: TimeRange,
    filter_pattern: str | None = None,
    timeout_s: float = 20.0,
    onset: Onset | None = None,
) -> Fetched:
    """Every group's lines over the window, per side of its onset, groups in parallel; a
    failing group is noted, not fatal. With `onset` (which blocks until the onset is
    known), reading starts before it: `window` is then the span, and what needs the onset
    (reading a busy group side by side) waits for it."""
    deadline = time.monotonic() + timeout_s
    final = onset or (lambda: window)
    use_insights = filter_pattern is None and insights_supported(aws, groups[0], window)
    fetched = Fetched(path="insights" if use_insights else "filter")

    def one(group: str) -> GroupSample:
        if filter_pattern:
            return pattern_group(aws, group, final(), filter_pattern, deadline)
        if use_insights:
            return insights_group(aws, group, window, deadline, final)
        return filter_group(aws, group, window, deadline, final)

    with ThreadPoolExecutor(max_workers=min(4, len(groups))) as pool:
        futures = {group: pool.submit(one, group) for group in groups}
    for group, future in futures.items():
        try:
            fetched.samples[group] = future.result()
        except Exception as exc:  # one group failing must not hide the others
            fetched.failures.append(f"{group}: {describe_error(exc)}")
    return fetched
