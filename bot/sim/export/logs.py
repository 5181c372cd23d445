"""Log lines as patterns: what a log group said, without the lines themselves.

A scenario must replay the log signal the investigation reads (error patterns and their
rates, the rare line that names the cause) without carrying an incident's raw lines
into a file that is shared. Every line is redacted first (`bot.engine.redact`); variable
tokens (times, ids, addresses, hex, numbers) become the format's placeholders with the
ranges seen; lines of one skeleton become one pattern whose per-minute rate is segmented
like a metric; a skeleton seen only a few times is kept as single lines at their times.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from bot.engine.redact import redact
from bot.sim.export.metrics import offset, significant, split_levels
from bot.sim.syntax import parse_offset

MAX_LINES_PER_GROUP = 200
MAX_PATTERNS_PER_GROUP = 80
RARE = 3  # a skeleton seen this often or less is kept as single lines

_TOKEN = re.compile(
    r"(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)"
    r"|(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)"
    r"|(?P<ip>(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.]))"
    r"|(?P<hex>\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{6,64}\b)"
    r"|(?P<num>(?<![\w.])\d+(?:\.\d+)?(?![\w.]))"
)


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def tokenize(line: str) -> tuple[tuple[str, ...], list[str]]:
    """A line -> (its skeleton: escaped literal text and token kinds, its token values)."""
    skeleton: list[str] = []
    values: list[str] = []
    position = 0
    for match in _TOKEN.finditer(line):
        skeleton.append(_escape(line[position : match.start()]))
        skeleton.append("\0" + str(match.lastgroup))
        values.append(match.group(0))
        position = match.end()
    skeleton.append(_escape(line[position:]))
    return tuple(skeleton), values


def _slot(kind: str, seen: list[str]) -> str:
    distinct = set(seen)
    if len(distinct) == 1 and kind not in ("ts", "uuid"):
        return _escape(seen[0])
    if kind in ("ts", "uuid", "ip"):
        return "{" + kind + "}"
    if kind == "hex":
        width = Counter(len(v) for v in seen).most_common(1)[0][0]
        return f"{{hex:{width}}}"
    numbers = [float(v) for v in seen]
    low, high = min(numbers), max(numbers)
    if all("." not in v for v in seen):
        return f"{{int:{int(low)}-{int(high)}}}"
    return f"{{float:{low:.2f}-{high:.2f}}}"


@dataclass
class _Skeleton:
    parts: tuple[str, ...]
    times: list[int] = field(default_factory=list)
    values: list[list[str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def template(self) -> str:
        out: list[str] = []
        slot = 0
        for part in self.parts:
            if part.startswith("\0"):
                out.append(_slot(part[1:], [v[slot] for v in self.values]))
                slot += 1
            else:
                out.append(part)
        return "".join(out)


def _rate_segments(times_ms: list[int], start: datetime, end: datetime, t0: datetime):
    """Per-minute counts segmented like a metric -> (from, to, lines per minute)."""
    minutes = max(int((end - start).total_seconds() // 60), 1)
    base = start.timestamp() * 1000
    counts = [0.0] * minutes
    for at in times_ms:
        index = int((at - base) // 60_000)
        if 0 <= index < minutes:
            counts[index] += 1
    cuts = [0, *split_levels(counts), minutes]
    for lo, hi in itertools.pairwise(cuts):
        total = sum(counts[lo:hi])
        if total == 0:
            continue
        # Trim empty minutes at either end so a pattern starts when its lines start.
        while counts[lo] == 0:
            lo += 1
        while counts[hi - 1] == 0:
            hi -= 1
        begin = start + timedelta(minutes=lo)
        finish = start + timedelta(minutes=hi)
        yield (begin - t0).total_seconds(), (finish - t0).total_seconds(), total / (hi - lo)


def log_group_spec(
    group: str, events: list[tuple[int, str]], start: datetime, end: datetime, t0: datetime
) -> dict[str, Any] | None:
    """A log group's events (epoch ms, message) as a scenario log group, or None if empty."""
    skeletons: dict[tuple[str, ...], _Skeleton] = {}
    for at, message in events:
        text = redact(message.rstrip("\n"))
        if not text.strip():
            continue
        parts, values = tokenize(text)
        entry = skeletons.setdefault(parts, _Skeleton(parts))
        entry.times.append(at)
        entry.values.append(values)
        if len(entry.lines) <= RARE:
            entry.lines.append(text)
    patterns: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    ranked = sorted(skeletons.values(), key=lambda s: -len(s.times))
    for entry in ranked:
        if len(entry.times) <= RARE or len(patterns) >= MAX_PATTERNS_PER_GROUP:
            for at, text in zip(entry.times, entry.lines, strict=False):
                if len(lines) < MAX_LINES_PER_GROUP:
                    seconds = (at / 1000) - t0.timestamp()
                    lines.append({"at": offset(seconds), "message": _escape(text)})
            continue
        template = entry.template()
        for begin, finish, rate in _rate_segments(entry.times, start, end, t0):
            patterns.append(
                {
                    "template": template,
                    "rate": f"{significant(rate)}/m",
                    "from": offset(begin),
                    "to": offset(finish),
                }
            )
    if not patterns and not lines:
        return None
    spec: dict[str, Any] = {"group": group, "patterns": patterns}
    if lines:
        spec["lines"] = sorted(lines, key=lambda line: parse_offset(line["at"]).total_seconds())
    return spec
