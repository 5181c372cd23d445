"""Log lines into patterns that changed: what is new since it broke, what grew, what stopped.

Lines are clustered into templates (Drain3; times, ids and numbers masked) as they arrive;
once the onset is known each template's rate before it is compared with its rate after.
Clustering runs while later pages are still on the wire, which is why it is split from
counting.
"""

from __future__ import annotations

import bisect
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

from tools.base import TimeRange, fmt_offset
from tools.vocabulary import EXCEPTION_NAME, KNOWN_FAILURES

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
        return "INFO" if not EXCEPTION_NAME.search(line) else "ERROR"
    word = (match.group(1) or match.group(2) or "").upper()
    return {"WARNING": "WARN", "FATAL": "ERROR", "CRITICAL": "ERROR"}.get(word, word)


def failure_markers(line: str) -> list[str]:
    """Exception class names and well-known failure phrases a line carries."""
    found = list(dict.fromkeys(EXCEPTION_NAME.findall(line)))
    lowered = line.lower()
    found += [phrase for phrase in KNOWN_FAILURES if phrase.lower() in lowered]
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
