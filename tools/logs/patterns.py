"""Log lines into patterns that changed: what is new since it broke, what grew, what stopped.

Lines are clustered into templates (Drain3; times, ids and numbers masked) on their
cluster form (`tools.logs.records`: a JSON record's level, message and error fields, a
text line's start and its exception line), then each template's rate before the onset is
compared with its rate after. Every line read stands for the lines it was sampled from
(`tools.logs.sample`), so a pattern's counts are exact where its side was read whole and
scaled (`~`) where it was sampled; a pattern too rare for the sample to tell whether it
is new or gone is called steady rather than guessed.
"""

from __future__ import annotations

import bisect
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from drain3 import TemplateMiner
from drain3.masking import MaskingInstruction
from drain3.template_miner_config import TemplateMinerConfig

from tools.base import TimeRange, fmt_offset
from tools.logs.records import (
    cluster_form,
    display,
    failure_markers,
    failure_text,
    kept,
    level_of,
)
from tools.logs.sample import GroupSample, is_failure

_MASKS = [
    (r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?", "TS"),
    (r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}", "UUID"),
    (r"arn:aws[a-z-]*:[^\s\"',]+", "ARN"),
    (r"\b\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}\b", "IP"),
    (r"[\w.+-]+@[\w-]+\.[\w.-]+", "EMAIL"),
    (r"\b(?=[0-9a-f]*\d)(?=[0-9a-f]*[a-f])[0-9a-f]{6,}\b", "HEX"),
    (r"(?<![A-Za-z])-?\d+(?:\.\d+)?", "NUM"),
]
# A field of a line, `key=value` or JSON `"key": value`, whose value the template masks.
_FIELD = re.compile(r'"?([A-Za-z_][\w.-]{1,40})"?\s*[=:]\s*"?([\w.-]{1,24})"?(?=[\s,;}"&)]|$)')
MAX_FIELDS = 8  # fields of a line kept for value shifts
# Lines a sampled side must have shown of a steady pattern before its absence means
# anything: fewer, and "new" or "gone" would be the sample's luck.
SEEN_ENOUGH = 3


def _miner() -> TemplateMiner:
    config = TemplateMinerConfig()
    config.masking_instructions = [MaskingInstruction(pattern, name) for pattern, name in _MASKS]
    # JSON values have no spaces: split them into keys and values so they cluster too.
    config.drain_extra_delimiters = [",", "{", "}", '"']
    config.drain_sim_th = 0.7
    config.drain_depth = 4
    config.drain_max_clusters = 400
    config.parametrize_numeric_tokens = True
    config.profiling_enabled = False
    return TemplateMiner(config=config)


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
    estimated: bool = False  # counts scaled from a sample of the lines, not counted
    read: tuple[int, int] = (0, 0)  # lines of it read before and since the onset
    # Values the template masks that took over since the onset: `numberOfResults=0 5% ->
    # 95% of lines`. The value a reviewer needs is in the lines, not the template.
    shifts: list[str] = field(default_factory=list)

    @cached_property
    def said(self) -> str:
        """What the sample line says, bounded: a JSON record's level, message and error
        fields, a text line's start and its exception line."""
        return failure_text(self.sample)

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
        about = "~" if self.estimated else ""
        shifted = f"; values since onset: {'; '.join(self.shifts[:2])}" if self.shifts else ""
        return (
            f"{self.status.upper()} {self.level} {about}x{self.recent} since onset "
            f"({about}{before:.1f} -> {about}{after:.1f}/min, first seen {first}) "
            f"in {self.group}: {text}{shifted}"
        )


def classify(pattern: Pattern, window: TimeRange, scales: tuple[float, float] = (1, 1)) -> str:
    """new | grown | gone | shrunk | steady. `scales` are the lines one line read stands
    for before and since the onset: where a side was sampled, a pattern is new or gone
    only if the sample would have shown it, had it been steady."""
    before, after = pattern.rates(window)
    if pattern.baseline == 0 and pattern.recent > 0:
        expected = after * (window.baseline_seconds / 60) / scales[0]
        return "new" if scales[0] <= 1 or expected >= SEEN_ENOUGH else "steady"
    if pattern.recent == 0 and pattern.baseline > 0 and before >= 0.2:
        expected = before * (window.recent_seconds / 60) / scales[1]
        return "gone" if scales[1] <= 1 or expected >= SEEN_ENOUGH else "steady"
    if after >= max(3 * before, before + 0.5) and pattern.recent >= 3:
        return "grown"
    if before >= 1 and after <= before / 3:
        return "shrunk"
    return "steady"


class Clusterer:
    """Drain3 assignment of the lines read; counting across the onset once it is known."""

    def __init__(self, group: str) -> None:
        self.group = group
        self._miner = _miner()
        self._times: dict[int, list[tuple[int, float]]] = {}
        self._first: dict[int, str] = {}
        self._last: dict[int, str] = {}
        self._fields: dict[int, list[tuple[int, tuple[tuple[str, str], ...]]]] = {}

    def add(self, events: Iterable[tuple[int, str] | tuple[int, str, float]]) -> Clusterer:
        """Lines as (epoch ms, message) or (epoch ms, message, lines it stands for)."""
        for event in sorted(events, key=lambda e: e[0]):
            timestamp_ms, message = event[0], event[1]
            weight = event[2] if len(event) > 2 else 1.0  # type: ignore[misc]
            form = cluster_form(message)
            if not form:
                continue
            cluster_id = self._miner.add_log_message(form)["cluster_id"]
            self._times.setdefault(cluster_id, []).append((timestamp_ms, weight))
            self._first.setdefault(cluster_id, kept(message))
            self._last[cluster_id] = message
            pairs = tuple(_FIELD.findall(form)[:MAX_FIELDS])
            if pairs:
                self._fields.setdefault(cluster_id, []).append((timestamp_ms, pairs))
        return self

    def _shifts(self, cluster_id: int, onset_ms: int) -> list[str]:
        """Field values whose share of the lines grew across the onset (at least 3 lines,
        1.5 times the baseline share and 30 points more): a count that went to zero, a
        status that changed, hidden behind the template's `<*>`."""
        rows = self._fields.get(cluster_id, [])
        sides: dict[bool, Counter[tuple[str, str]]] = {False: Counter(), True: Counter()}
        lines = {False: 0, True: 0}
        for timestamp_ms, pairs in rows:
            recent = timestamp_ms >= onset_ms
            lines[recent] += 1
            sides[recent].update(set(pairs))
        if not lines[False] or lines[True] < 3:
            return []
        found = []
        for (key, value), after in sides[True].most_common(20):
            before = sides[False][(key, value)]
            share_before, share_after = before / lines[False], after / lines[True]
            if (
                after >= 3
                and share_after >= 1.5 * share_before + 1e-9
                and (share_after - share_before >= 0.3)
            ):
                found.append(f"{key}={value} {share_before:.0%} -> {share_after:.0%} of lines")
        return found[:3]

    def patterns(self, window: TimeRange, sample: GroupSample | None = None) -> list[Pattern]:
        onset_ms = int(window.onset.timestamp() * 1000)
        found = []
        for cluster_id, times in self._times.items():
            times.sort()
            split = bisect.bisect_left(times, (onset_ms, -1.0))
            text = self._first[cluster_id]
            before = sum(w for _, w in times[:split])
            after = sum(w for _, w in times[split:])
            cluster = self._miner.drain.id_to_cluster.get(cluster_id)
            pattern = Pattern(
                group=self.group,
                template=cluster.get_template() if cluster else cluster_form(text),
                level=level_of(text),
                baseline=round(before),
                recent=round(after),
                first_seen=datetime.fromtimestamp(times[0][0] / 1000, UTC),
                last_seen=datetime.fromtimestamp(times[-1][0] / 1000, UTC),
                sample=text,  # the first line: when the pattern is new, a line of the incident
                recent_sample=kept(self._last[cluster_id]) if len(times) > split else "",
                markers=failure_markers(text),
                estimated=round(before) != split or round(after) != len(times) - split,
                read=(split, len(times) - split),
                shifts=self._shifts(cluster_id, onset_ms),
            )
            failing = is_failure(text)
            scales = (
                (sample.scale(False, failing), sample.scale(True, failing)) if sample else (1, 1)
            )
            pattern.status = classify(pattern, window, scales)
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
    since = sum(p.recent for p in patterns)
    about = "~" if any(p.estimated for p in patterns) else ""
    lines.append(f"- {steady} steady patterns, {about}{since} lines since onset")
    return "\n".join(lines)
