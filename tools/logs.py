"""CloudWatch Logs: fetch a service's lines and turn them into patterns that changed.

An SRE scrolling logs at 3 a.m. asks "what is new since it broke, what grew, what
stopped?". Lines are clustered into templates (Drain3, numbers and ids masked) and
each template's rate before the onset is compared with its rate after.

Logs Insights is used where the endpoint really runs queries (a probe checks that a
`stats` query answers with its own field); otherwise `FilterLogEvents`. Either way
the clustering happens here, so the two paths yield the same evidence.
"""

from __future__ import annotations

import bisect
import json
import queue
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig
from pydantic import Field

from tools.aws import AwsClients, describe_error
from tools.base import TimeRange, Tool, ToolError, ToolInput, ToolResult, fmt_offset

MAX_EVENTS_PER_GROUP = 60_000
MAX_LINE = 600
_MASKS = [
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?", "TS"),
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
    (r"arn:aws[a-z-]*:[^\s\"',]+", "ARN"),
    (r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", "IP"),
    (r"[\w.+-]+@[\w-]+\.[\w.-]+", "EMAIL"),
    (r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b", "HEX"),
    (r"(?<![A-Za-z])-?\d+(?:\.\d+)?", "NUM"),
]
_LEVEL = re.compile(
    r"\b(CRITICAL|FATAL|ERROR|WARN(?:ING)?|INFO|DEBUG)\b|\"level\"\s*:\s*\"(\w+)\"", re.I
)
_EXCEPTION = re.compile(r"\b([A-Z][A-Za-z0-9]*(?:Exception|Error|Fault))\b")
_KNOWN_FAILURES = [
    "Task timed out",
    "Runtime.OutOfMemory",
    "Runtime.ExitError",
    "Too many tokens",
    "Too many requests",
    "Rate Exceeded",
    "Input is too long",
    "too long",
    "max_tokens",
    "not authorized to perform",
    "Connection reset",
    "timed out",
    "Init Duration",
]


def _miner() -> TemplateMiner:
    config = TemplateMinerConfig()
    config.masking_instructions = [MaskingInstruction(pattern, name) for pattern, name in _MASKS]
    # JSON records have no spaces: split them into keys and values so they cluster too.
    config.drain_extra_delimiters = [",", "{", "}", '"']
    config.drain_sim_th = 0.7
    config.drain_depth = 4
    config.drain_max_clusters = 400
    config.parametrize_numeric_tokens = True
    config.profiling_enabled = False
    return TemplateMiner(config=config)


_NOISE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?\s?|"
    r"(?:RequestId:\s*)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\s?"
)
_BOILERPLATE_KEYS = {
    "ts",
    "time",
    "timestamp",
    "@timestamp",
    "request_id",
    "requestId",
    "accountId",
    "region",
    "schemaType",
    "schemaVersion",
    "trace_id",
    "xray_trace_id",
}


def display(line: str) -> str:
    """A sample line without what differs on every line (times, request ids, envelope
    keys of JSON records): shorter for an LLM, and the part that says what happened."""
    stripped = line.strip()
    if stripped.startswith("{"):
        try:
            record = json.loads(stripped)
        except ValueError:
            record = None
        if isinstance(record, dict):
            kept = {k: v for k, v in record.items() if k not in _BOILERPLATE_KEYS}
            return json.dumps(kept, separators=(",", ":"))
    return _NOISE.sub("", stripped)


def level_of(line: str) -> str:
    match = _LEVEL.search(line[:200])
    if not match:
        return "INFO" if not _EXCEPTION.search(line) else "ERROR"
    word = (match.group(1) or match.group(2) or "").upper()
    return {"WARNING": "WARN", "FATAL": "ERROR", "CRITICAL": "ERROR"}.get(word, word)


def failure_markers(line: str) -> list[str]:
    """Exception class names and well-known failure phrases a line carries."""
    found = list(dict.fromkeys(_EXCEPTION.findall(line)))
    lowered = line.lower()
    found += [phrase for phrase in _KNOWN_FAILURES if phrase.lower() in lowered]
    return found


@dataclass
class Pattern:
    """One log template with its counts before and after the onset."""

    group: str
    template: str
    level: str
    baseline: int = 0
    recent: int = 0
    first_seen: datetime | None = None
    last_seen: datetime | None = None
    sample: str = ""
    recent_sample: str = ""  # the latest line since onset: today's values of the template
    markers: list[str] = field(default_factory=list)
    status: str = "steady"  # new | grown | shrunk | gone | steady

    def rates(self, window: TimeRange) -> tuple[float, float]:
        """Lines per minute before and after the onset."""
        return (
            self.baseline / (window.baseline_seconds / 60),
            self.recent / (window.recent_seconds / 60),
        )

    def line(self, window: TimeRange) -> str:
        before, after = self.rates(window)
        first = fmt_offset(window.minutes_from_t0(self.first_seen)) if self.first_seen else "?"
        text = display(self.sample)
        text = text if len(text) <= 240 else text[:237] + "..."
        return (
            f"{self.status.upper()} {self.level} x{self.recent} since onset "
            f"({before:.1f} -> {after:.1f}/min, first seen {first}) in {self.group}: {text}"
        )


def classify(pattern: Pattern, window: TimeRange) -> str:
    before, after = pattern.rates(window)
    if pattern.baseline == 0 and pattern.recent > 0:
        return "new"
    if pattern.recent == 0 and pattern.baseline > 0 and before >= 0.2:
        return "gone"
    if after >= max(3 * before, before + 0.5) and pattern.recent >= 3:
        return "grown"
    if before >= 1 and after <= before / 3:
        return "shrunk"
    return "steady"


class Clusterer:
    """Drain3 assignment as lines arrive; counting across the onset once it is known.

    Splitting the two lets clustering run while later pages are still being fetched,
    and before the onset has been found."""

    def __init__(self, group: str) -> None:
        self.group = group
        self._miner = _miner()
        self._times: dict[int, list[int]] = {}
        self._first: dict[int, str] = {}
        self._last: dict[int, str] = {}

    def add(self, events: list[tuple[int, str]]) -> Clusterer:
        for timestamp_ms, message in events:
            text = message.strip()[:MAX_LINE]
            if not text:
                continue
            cluster_id = self._miner.add_log_message(text)["cluster_id"]
            self._times.setdefault(cluster_id, []).append(timestamp_ms)
            self._first.setdefault(cluster_id, text)
            self._last[cluster_id] = text
        return self

    def patterns(self, window: TimeRange) -> list[Pattern]:
        onset_ms = int(window.onset.timestamp() * 1000)
        found = []
        for cluster_id, times in self._times.items():
            times.sort()
            baseline = bisect.bisect_left(times, onset_ms)
            text = self._first[cluster_id]
            cluster = self._miner.drain.id_to_cluster.get(cluster_id)
            pattern = Pattern(
                group=self.group,
                template=cluster.get_template() if cluster else text,
                level=level_of(text),
                baseline=baseline,
                recent=len(times) - baseline,
                first_seen=datetime.fromtimestamp(times[0] / 1000, UTC),
                last_seen=datetime.fromtimestamp(times[-1] / 1000, UTC),
                sample=text,  # the first line: when the pattern is new, a line of the incident
                recent_sample=self._last[cluster_id] if len(times) > baseline else "",
                markers=failure_markers(text),
            )
            pattern.status = classify(pattern, window)
            found.append(pattern)
        return found


def cluster(events: list[tuple[int, str]], group: str, window: TimeRange) -> list[Pattern]:
    """Drain3 templates with baseline/recent counts, first/last seen and one sample line."""
    return Clusterer(group).add(events).patterns(window)


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


_REPORT = re.compile(
    r"REPORT RequestId:.*?Duration: ([\d.]+) ms.*?Memory Size: (\d+) MB\s+"
    r"Max Memory Used: (\d+) MB(?:\s+Init Duration: ([\d.]+) ms)?"
)


@dataclass
class LambdaReports:
    """What Lambda's own REPORT lines say, per side of the onset: the runtime's view of
    duration, memory and cold starts, independent of what the code logs."""

    group: str
    invocations: dict[bool, int] = field(default_factory=lambda: {False: 0, True: 0})
    memory_full: dict[bool, int] = field(default_factory=lambda: {False: 0, True: 0})
    cold: dict[bool, int] = field(default_factory=lambda: {False: 0, True: 0})
    max_duration_ms: dict[bool, float] = field(default_factory=lambda: {False: 0.0, True: 0.0})
    memory_size_mb: int = 0
    max_memory_mb: dict[bool, int] = field(default_factory=lambda: {False: 0, True: 0})

    def line(self) -> str:
        before, after = self.invocations[False] or 1, self.invocations[True] or 1
        return (
            f"Lambda REPORT in {self.group}: Max Memory Used {self.max_memory_mb[False]} -> "
            f"{self.max_memory_mb[True]} MB of Memory Size {self.memory_size_mb} MB "
            f"(>=90% in {self.memory_full[False] / before:.0%} -> "
            f"{self.memory_full[True] / after:.0%} of invocations); Init Duration (cold starts) "
            f"{self.cold[False] / before:.0%} -> {self.cold[True] / after:.0%}; max Duration "
            f"{self.max_duration_ms[False]:.0f} -> {self.max_duration_ms[True]:.0f} ms"
        )


def lambda_reports(
    events: list[tuple[int, str]], group: str, window: TimeRange
) -> LambdaReports | None:
    reports = LambdaReports(group)
    onset_ms = window.onset.timestamp() * 1000
    for timestamp_ms, message in events:
        if not message.startswith("REPORT"):
            continue
        match = _REPORT.search(message)
        if not match:
            continue
        recent = timestamp_ms >= onset_ms
        duration, size, used = float(match.group(1)), int(match.group(2)), int(match.group(3))
        reports.invocations[recent] += 1
        reports.memory_size_mb = max(reports.memory_size_mb, size)
        reports.max_memory_mb[recent] = max(reports.max_memory_mb[recent], used)
        reports.memory_full[recent] += used >= 0.9 * size
        reports.cold[recent] += match.group(4) is not None
        reports.max_duration_ms[recent] = max(reports.max_duration_ms[recent], duration)
    return reports if reports.invocations[False] + reports.invocations[True] else None


class LogsInput(ToolInput):
    log_groups: list[str] = Field(min_length=1, max_length=10)
    start: datetime
    end: datetime
    onset: datetime
    t0: datetime | None = None
    filter_pattern: str | None = Field(
        default=None, max_length=200, description="a plain or quoted term to narrow the lines"
    )
    limit: int = Field(default=10, ge=1, le=40, description="patterns to show")


def render(patterns: list[Pattern], window: TimeRange, limit: int) -> str:
    """Changed patterns, errors first, then a count of the steady ones."""
    order = {"new": 0, "grown": 1, "gone": 2, "shrunk": 3}
    rank = {"ERROR": 0, "WARN": 1}
    changed = sorted(
        (p for p in patterns if p.status != "steady"),
        key=lambda p: (order[p.status], rank.get(p.level, 2), -p.recent),
    )
    lines = [f"- {p.line(window)}" for p in changed[:limit]]
    if len(changed) > limit:
        lines.append(f"- ... {len(changed) - limit} more changed patterns")
    steady_errors = [p for p in patterns if p.status == "steady" and p.level in ("ERROR", "WARN")]
    for pattern in sorted(steady_errors, key=lambda p: -p.recent)[:3]:
        before, after = pattern.rates(window)
        lines.append(
            f"- STEADY {pattern.level} ({before:.1f} -> {after:.1f}/min, also before onset) "
            f"in {pattern.group}: {display(pattern.sample)[:160]}"
        )
    steady = sum(1 for p in patterns if p.status == "steady")
    lines.append(f"- {steady} steady patterns, {sum(p.recent for p in patterns)} lines since onset")
    return "\n".join(lines)


class LogsTool(Tool[LogsInput]):
    name = "get_log_patterns"
    description = (
        "Clusters CloudWatch Logs lines of the given log groups into templates and reports "
        "the ones that are new, grew, shrank or disappeared since onset, with counts, "
        "first-seen times and a sample line. Use filter_pattern (a plain term) to narrow."
    )
    Input = LogsInput

    def run(self, params: LogsInput) -> ToolResult:
        window = TimeRange(start=params.start, end=params.end, onset=params.onset, t0=params.t0)
        fetched = fetch_groups(
            self.aws, params.log_groups, window, params.filter_pattern, params.timeout_s
        )
        return analyze(fetched, window, params.limit)


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


def analyze(fetched: Fetched, window: TimeRange, limit: int = 10) -> ToolResult:
    """Cluster what was fetched and compare each pattern across the onset."""
    if fetched.failures and not fetched.events:
        raise ToolError("; ".join(fetched.failures))
    patterns: list[Pattern] = []
    reports: list[LambdaReports] = []
    for group, events in fetched.events.items():
        patterns += fetched.clusters[group].patterns(window)
        if found := lambda_reports(events, group, window):
            reports.append(found)
    notes = fetched.notes + [f"missing log group {f}" for f in fetched.failures]
    data = {"patterns": patterns, "path": fetched.path, "lambda_reports": reports}
    text = render(patterns, window, limit)
    text += "".join(f"\n- {report.line()}" for report in reports)
    return ToolResult(LogsTool.name, text, data, notes)
