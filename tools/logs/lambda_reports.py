"""Lambda's own REPORT lines: the runtime's view of duration, memory and cold starts,
independent of what the code logs.

Lambda writes one per invocation, in the text format (`REPORT RequestId: ...\\tDuration:
1256.33 ms\\tBilled Duration: 1257 ms\\tMemory Size: 512 MB\\tMax Memory Used: 114 MB\\t
Init Duration: 380.85 ms`, tabs or spaces) or, on the JSON log format, as a
`platform.report` record whose `record.metrics` carry the same values as numbers and
whose `record.status` says success, error or timeout. Both are read into `Report`.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.base import TimeRange
from tools.logs.records import parse_record

_FIELD = re.compile(
    r"(Duration|Billed Duration|Memory Size|Max Memory Used|Init Duration|Restore Duration):"
    r"\s*([\d.]+)\s*(ms|MB)"
)


class ReportMetrics(BaseModel):
    """`record.metrics` of a platform.report record (milliseconds and megabytes)."""

    model_config = ConfigDict(extra="ignore")

    durationMs: float = Field(ge=0)  # noqa: N815 - Lambda's field names
    billedDurationMs: float | None = Field(default=None, ge=0)  # noqa: N815
    memorySizeMB: int | None = Field(default=None, ge=0)  # noqa: N815
    maxMemoryUsedMB: int | None = Field(default=None, ge=0)  # noqa: N815
    initDurationMs: float | None = Field(default=None, ge=0)  # noqa: N815


@dataclass(frozen=True)
class Report:
    """One invocation as Lambda reported it."""

    duration_ms: float
    billed_ms: float | None = None
    memory_size_mb: int | None = None
    max_memory_mb: int | None = None
    init_ms: float | None = None
    status: str = "success"  # success | error | timeout (the JSON format says; text does not)


def parse_report(message: str) -> Report | None:
    """A REPORT line or a platform.report record -> Report; anything else -> None."""
    text = message.lstrip("\ufeff").strip()
    if text.startswith("REPORT"):
        values = {name: float(value) for name, value, _ in _FIELD.findall(text)}
        if "Duration" not in values:
            return None
        memory = values.get("Memory Size")
        used = values.get("Max Memory Used")
        return Report(
            duration_ms=values["Duration"],
            billed_ms=values.get("Billed Duration"),
            memory_size_mb=int(memory) if memory is not None else None,
            max_memory_mb=int(used) if used is not None else None,
            init_ms=values.get("Init Duration"),
        )
    if '"platform.report"' not in text:
        return None
    record = parse_record(text)
    body = record.get("record") if record else None
    if not isinstance(body, dict) or record.get("type") != "platform.report":  # type: ignore[union-attr]
        return None
    try:
        metrics = ReportMetrics.model_validate(body.get("metrics") or {})
    except ValidationError:
        return None
    return Report(
        duration_ms=metrics.durationMs,
        billed_ms=metrics.billedDurationMs,
        memory_size_mb=metrics.memorySizeMB,
        max_memory_mb=metrics.maxMemoryUsedMB,
        init_ms=metrics.initDurationMs,
        status=str(body.get("status") or "success"),
    )


def _sides() -> dict[bool, float]:
    return {False: 0.0, True: 0.0}


@dataclass
class LambdaReports:
    """What Lambda's own REPORT lines say, per side of the onset (counts weighted by the
    lines each REPORT read stands for)."""

    group: str
    invocations: dict[bool, float] = field(default_factory=_sides)
    memory_full: dict[bool, float] = field(default_factory=_sides)
    cold: dict[bool, float] = field(default_factory=_sides)
    timeouts: dict[bool, float] = field(default_factory=_sides)
    errors: dict[bool, float] = field(default_factory=_sides)
    max_duration_ms: dict[bool, float] = field(default_factory=_sides)
    # Per side: a memory cut (1024 -> 512 MB) is itself the finding, so never one maximum.
    memory_size_mb: dict[bool, int] = field(default_factory=lambda: {False: 0, True: 0})
    max_memory_mb: dict[bool, int] = field(default_factory=lambda: {False: 0, True: 0})
    init_ms_total: dict[bool, float] = field(default_factory=_sides)
    read: dict[bool, int] = field(default_factory=lambda: {False: 0, True: 0})

    def add(self, report: Report, recent: bool, weight: float = 1.0) -> None:
        self.read[recent] += 1
        self.invocations[recent] += weight
        if report.memory_size_mb:
            self.memory_size_mb[recent] = max(self.memory_size_mb[recent], report.memory_size_mb)
        if report.max_memory_mb is not None:
            self.max_memory_mb[recent] = max(self.max_memory_mb[recent], report.max_memory_mb)
            size = report.memory_size_mb or self.memory_size_mb[recent]
            if size and report.max_memory_mb >= 0.9 * size:
                self.memory_full[recent] += weight
        if report.init_ms is not None:
            self.cold[recent] += weight
            self.init_ms_total[recent] += report.init_ms * weight
        if report.status == "timeout":
            self.timeouts[recent] += weight
        elif report.status != "success":
            self.errors[recent] += weight
        self.max_duration_ms[recent] = max(self.max_duration_ms[recent], report.duration_ms)

    def share(self, counts: dict[bool, float], recent: bool) -> float:
        return counts[recent] / self.invocations[recent] if self.invocations[recent] else 0.0

    def line(self) -> str:
        def shares(counts: dict[bool, float]) -> str:
            return f"{self.share(counts, False):.0%} -> {self.share(counts, True):.0%}"

        size_before, size_after = self.memory_size_mb[False], self.memory_size_mb[True]
        size = (
            f"{size_after or size_before}"
            if size_before in (0, size_after) or not size_after
            else f"{size_before} -> {size_after}"
        )
        text = (
            f"Lambda REPORT in {self.group}: Max Memory Used {self.max_memory_mb[False]} -> "
            f"{self.max_memory_mb[True]} MB of Memory Size {size} MB "
            f"(>=90% in {shares(self.memory_full)} of invocations); Init Duration (cold starts) "
            f"{shares(self.cold)}; max Duration "
            f"{self.max_duration_ms[False]:.0f} -> {self.max_duration_ms[True]:.0f} ms"
        )
        if self.timeouts[False] or self.timeouts[True]:
            text += f"; status timeout {shares(self.timeouts)}"
        if self.errors[False] or self.errors[True]:
            text += f"; status error {shares(self.errors)}"
        if any(self.invocations[side] > self.read[side] + 0.5 for side in (False, True)):
            text += f" (from {self.read[False] + self.read[True]} REPORT lines read)"
        return text


def lambda_reports(
    events: Iterable[tuple[int, str] | tuple[int, str, float]], group: str, window: TimeRange
) -> LambdaReports | None:
    """The REPORT lines among `events` (optionally weighted), per side of the onset."""
    reports = LambdaReports(group)
    onset_ms = window.onset.timestamp() * 1000
    for event in events:
        report = parse_report(event[1])
        if report is not None:
            weight = event[2] if len(event) > 2 else 1.0  # type: ignore[misc]
            reports.add(report, event[0] >= onset_ms, weight)
    return reports if reports.read[False] + reports.read[True] else None
