"""Lambda's own REPORT lines: the runtime's view of duration, memory and cold starts,
independent of what the code logs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tools.base import TimeRange

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
