"""The part of the Logs Insights query language the fake Logs endpoint runs.

moto accepts `StartQuery` but does not run `stats`, so a test of the aggregate path needs
an interpreter; this one runs exactly the query shapes `tools.logs.insights` issues, and
rejects anything else with `MalformedQueryErrorException`, as AWS rejects a query it cannot
parse, so a new query shape in the tool fails loudly here rather than being answered
wrongly:

- `fields @timestamp, @message` (and `@log`, `@logStream`)
- `filter @message like /regex/`, `filter @message not like /regex/`,
  `filter @message like "text"`
- `stats count(*) as NAME` and `stats count(*) as NAME by bin(Nm) as ALIAS`
- `sort @timestamp asc|desc`
- `limit N`

Values come back as Logs Insights writes them: times as `2026-11-20 11:47:03.512`, counts
as strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

_FIELDS = re.compile(r"^fields\s+(@\w+(?:\s*,\s*@\w+)*)$")
_FILTER = re.compile(r'^filter\s+@message\s+(not\s+)?like\s+(/(?P<re>.*)/|"(?P<text>[^"]*)")$')
_STATS = re.compile(
    r"^stats\s+count\(\*\)\s+as\s+(?P<name>\w+)"
    r"(?:\s+by\s+bin\((?P<n>\d+)(?P<unit>[smh])\)\s+as\s+(?P<alias>\w+))?$"
)
_SORT = re.compile(r"^sort\s+@timestamp\s+(asc|desc)$")
_LIMIT = re.compile(r"^limit\s+(\d+)$")
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000}
MAX_ROWS = 10_000


class MalformedQueryError(ValueError):
    """A query outside the subset the fake runs."""


@dataclass
class Query:
    fields: list[str] = field(default_factory=lambda: ["@timestamp", "@message"])
    filters: list[tuple[bool, re.Pattern[str]]] = field(default_factory=list)
    stats_name: str | None = None
    bin_ms: int | None = None
    bin_alias: str | None = None
    descending: bool | None = None
    limit: int | None = None


def _commands(text: str) -> list[str]:
    """The query split at the pipes that separate commands: not those inside a /regex/
    or a "string"."""
    commands, current, inside, escaped = [], [], "", False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif inside:
            inside = "" if char == inside else inside
        elif char in '/"':
            inside = char
        elif char == "|":
            commands.append("".join(current))
            current = []
            continue
        current.append(char)
    commands.append("".join(current))
    return commands


def parse_query(text: str) -> Query:
    query = Query()
    for raw in _commands(text):
        command = raw.strip()
        if match := _FIELDS.match(command):
            query.fields = [f.strip() for f in match.group(1).split(",")]
        elif match := _FILTER.match(command):
            pattern = match.group("re")
            if pattern is None:
                pattern = re.escape(match.group("text"))
            try:
                query.filters.append((bool(match.group(1)), re.compile(pattern)))
            except re.error as exc:
                raise MalformedQueryError(f"bad regular expression in {command!r}: {exc}") from None
        elif match := _STATS.match(command):
            query.stats_name = match.group("name")
            if match.group("n"):
                query.bin_ms = int(match.group("n")) * _UNIT_MS[match.group("unit")]
                query.bin_alias = match.group("alias")
        elif match := _SORT.match(command):
            query.descending = match.group(1) == "desc"
        elif match := _LIMIT.match(command):
            query.limit = int(match.group(1))
        else:
            raise MalformedQueryError(f"unsupported query command: {command!r}")
    if query.limit is not None and not 0 < query.limit <= MAX_ROWS:
        raise MalformedQueryError(f"limit must be between 1 and {MAX_ROWS}")
    return query


def fmt_time(epoch_ms: int) -> str:
    at = datetime.fromtimestamp(epoch_ms / 1000, UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S.") + f"{epoch_ms % 1000:03d}"


Row = list[dict[str, str]]


@dataclass
class Table:
    """One log group's lines in time order, as parallel lists, and a cache of which lines
    each regular expression matches (a query filters by the same expression again and
    again; scanning a million lines once per expression keeps the fake fast)."""

    name: str
    times: list[int] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)
    streams: list[str] = field(default_factory=list)
    _masks: dict[str, bytearray] = field(default_factory=dict)

    def mask(self, rx: re.Pattern[str]) -> bytearray:
        found = self._masks.get(rx.pattern)
        if found is None or len(found) != len(self.messages):
            search = rx.search
            found = bytearray(1 if search(m) else 0 for m in self.messages)
            self._masks[rx.pattern] = found
        return found


def run(query: Query, table: Table, low: int, high: int, limit: int | None = None):
    """Rows for the lines [low, high) of a table, and how many lines were scanned."""
    masks = [(negate, table.mask(rx)) for negate, rx in query.filters]

    def matches(index: int) -> bool:
        return all(bool(mask[index]) != negate for negate, mask in masks)

    cap = min(query.limit or MAX_ROWS, limit or MAX_ROWS, MAX_ROWS)
    times = table.times
    if query.stats_name is not None:
        chosen = [times[i] for i in range(low, high) if matches(i)] if masks else times[low:high]
        return _stats(query, chosen)[:cap], high - low
    order = range(high - 1, low - 1, -1) if query.descending else range(low, high)
    rows: list[Row] = []
    scanned = 0
    for index in order:
        scanned += 1
        if not matches(index):
            continue
        values = {
            "@timestamp": fmt_time(times[index]),
            "@message": table.messages[index],
            "@log": table.name,
            "@logStream": table.streams[index],
        }
        row = [{"field": name, "value": values[name]} for name in query.fields if name in values]
        row.append({"field": "@ptr", "value": f"{table.name}:{times[index]}"})
        rows.append(row)
        if len(rows) >= cap:
            break
    return rows, scanned


def _stats(query: Query, matched: list[int]) -> list[Row]:
    name = query.stats_name or "count"
    if query.bin_ms is None:
        return [[{"field": name, "value": str(len(matched))}]]
    counts: dict[int, int] = {}
    for timestamp_ms in matched:
        start = timestamp_ms - timestamp_ms % query.bin_ms
        counts[start] = counts.get(start, 0) + 1
    alias = query.bin_alias or f"bin({query.bin_ms // 1000}s)"
    return [
        [{"field": alias, "value": fmt_time(start)}, {"field": name, "value": str(count)}]
        for start, count in sorted(counts.items(), reverse=True)
    ]
