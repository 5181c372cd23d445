"""A small Logs Insights interpreter for queries over JSON events (the span queries).

Two users, one meaning: the fake Logs endpoint (`bot.sim.fakes.logs`) answers the span
tool's queries with it, as Logs Insights would from the seeded events; and the span tool
itself runs its own query strings with it over events read by FilterLogEvents when an
endpoint cannot run Logs Insights (moto), so both paths compute the same figures.

The subset, as Logs Insights defines it for JSON events (nested keys flattened with dots,
list items by index: `attributes.gen_ai.tool.name`, `events.0.attributes.exception.type`):

- `fields F, F ...`
- `filter E`: comparisons `= != < <= > >=` with a string or a number, `F like /re/`,
  `F like "text"`, `F in [v, ...]`, `ispresent(F)`, `not`, `and`, `or`, parentheses;
  a number compares equal to a field holding that number or its text (`2` and `"2"`);
- `stats AGG as NAME, ... [by KEY, ...]` with `count(*)`, `count(F)`, `sum`, `avg`,
  `min`, `max`, `pct(F, N)`, `earliest(F)`, `latest(F)`; keys are fields or
  `bin(Nm) [as ALIAS]`; a second `stats` aggregates the rows of the first;
- `sort NAME asc|desc`, `limit N`.

Anything else raises `QueryError` (the fake answers `MalformedQueryErrorException`), so a
new query shape fails loudly instead of being answered wrongly.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

MAX_ROWS = 10_000
_TOKEN = re.compile(
    r"\s*(?:(?P<str>\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*')|(?P<re>/(?:[^/\\]|\\.)*/)"
    r"|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>!=|<=|>=|=|<|>)|(?P<punct>[()\[\],*|])"
    r"|(?P<name>`[^`]+`|[@A-Za-z_][\w.@-]*))"
)
_UNIT_MS = {"s": 1000, "m": 60_000, "h": 3_600_000}
_AGGREGATES = {"count", "sum", "avg", "min", "max", "pct", "earliest", "latest"}
Event = dict[str, Any]
Row = dict[str, Any]


class QueryError(ValueError):
    """A query outside the subset this interpreter runs."""


def flatten(value: Any, prefix: str = "", into: Event | None = None) -> Event:
    """A JSON document as Logs Insights sees its fields: `a.b.c`, `list.0.x`."""
    out: Event = {} if into is None else into
    if isinstance(value, dict):
        for key, inner in value.items():
            flatten(inner, f"{prefix}{key}.", out)
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            flatten(inner, f"{prefix}{index}.", out)
    elif prefix:
        out[prefix[:-1]] = value
    return out


def event_fields(timestamp_ms: int, message: str) -> Event:
    """One log event's fields: its JSON (when it is JSON) plus `@timestamp`, `@message`."""
    fields: Event = {}
    if message.startswith("{"):
        try:
            fields = flatten(json.loads(message))
        except ValueError:
            fields = {}
    fields["@timestamp"] = timestamp_ms
    fields["@message"] = message
    return fields


# -- parsing ------------------------------------------------------------------------


def _tokens(text: str) -> list[tuple[str, str]]:
    out, position = [], 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise QueryError(f"cannot read the query at {text[position : position + 20]!r}")
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        position = match.end()
    return out


def _commands(tokens: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    commands: list[list[tuple[str, str]]] = [[]]
    for token in tokens:
        if token == ("punct", "|"):
            commands.append([])
        else:
            commands[-1].append(token)
    return [c for c in commands if c]


def _field_name(token: tuple[str, str]) -> str:
    kind, text = token
    if kind != "name":
        raise QueryError(f"expected a field name, found {text!r}")
    return text.strip("`")


def _literal(token: tuple[str, str]) -> Any:
    kind, text = token
    if kind == "str":
        return re.sub(r"\\(.)", r"\1", text[1:-1])
    if kind == "num":
        return float(text) if "." in text else int(text)
    raise QueryError(f"expected a string or a number, found {text!r}")


class _Reader:
    def __init__(self, tokens: list[tuple[str, str]]) -> None:
        self.tokens, self.at = tokens, 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self) -> tuple[str, str]:
        if self.at >= len(self.tokens):
            raise QueryError("the query ends too early")
        self.at += 1
        return self.tokens[self.at - 1]

    def word(self, *words: str) -> bool:
        token = self.peek()
        if token and token[0] == "name" and token[1].lower() in words:
            self.at += 1
            return True
        return False

    def punct(self, char: str) -> bool:
        if self.peek() == ("punct", char):
            self.at += 1
            return True
        return False

    def expect(self, char: str) -> None:
        if not self.punct(char):
            raise QueryError(f"expected {char!r}")

    def done(self) -> bool:
        return self.at >= len(self.tokens)


Predicate = Callable[[Event], bool]


def _equal(value: Any, wanted: Any) -> bool:
    if value is None:
        return False
    if isinstance(wanted, int | float) and not isinstance(wanted, bool):
        try:
            return float(value) == float(wanted)
        except (TypeError, ValueError):
            return False
    return str(value) == str(wanted)


def _compare(value: Any, op: str, wanted: Any) -> bool:
    if op == "=":
        return _equal(value, wanted)
    if op == "!=":
        return value is not None and not _equal(value, wanted)
    try:
        left, right = float(value), float(wanted)
    except (TypeError, ValueError):
        return False
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]


def _expression(reader: _Reader) -> Predicate:
    left = _conjunction(reader)
    while reader.word("or"):
        right, first = _conjunction(reader), left
        left = lambda e, a=first, b=right: a(e) or b(e)  # noqa: E731
    return left


def _conjunction(reader: _Reader) -> Predicate:
    left = _term(reader)
    while reader.word("and"):
        right, first = _term(reader), left
        left = lambda e, a=first, b=right: a(e) and b(e)  # noqa: E731
    return left


def _term(reader: _Reader) -> Predicate:
    if reader.word("not"):
        inner = _term(reader)
        return lambda e: not inner(e)
    if reader.punct("("):
        inner = _expression(reader)
        reader.expect(")")
        return inner
    if reader.word("ispresent"):
        reader.expect("(")
        name = _field_name(reader.take())
        reader.expect(")")
        return lambda e: e.get(name) is not None
    name = _field_name(reader.take())
    negate = reader.word("not")
    if reader.word("like"):
        kind, text = reader.take()
        if kind == "re":
            pattern = re.compile(text[1:-1])
        elif kind == "str":
            pattern = re.compile(re.escape(_literal((kind, text))))
        else:
            raise QueryError(f"like needs /regex/ or a string, found {text!r}")
        return lambda e: (pattern.search(str(e.get(name, ""))) is not None) != negate
    if reader.word("in"):
        reader.expect("[")
        values = [_literal(reader.take())]
        while reader.punct(","):
            values.append(_literal(reader.take()))
        reader.expect("]")
        return lambda e: any(_equal(e.get(name), v) for v in values) != negate
    if negate:
        raise QueryError("not must precede like or in")
    kind, op = reader.take()
    if kind != "op":
        raise QueryError(f"expected a comparison after {name}, found {op!r}")
    wanted = _literal(reader.take())
    return lambda e: _compare(e.get(name), op, wanted)


@dataclass
class Aggregate:
    function: str
    field: str | None
    name: str
    percentile: float = 50.0


@dataclass
class Key:
    field: str | None
    name: str
    bin_ms: int | None = None


@dataclass
class Stats:
    aggregates: list[Aggregate]
    keys: list[Key]


@dataclass
class Query:
    steps: list[tuple[str, Any]] = field(default_factory=list)
    limit: int | None = None


def _stats(reader: _Reader) -> Stats:
    aggregates = [_aggregate(reader)]
    while reader.punct(","):
        aggregates.append(_aggregate(reader))
    keys: list[Key] = []
    if reader.word("by"):
        keys.append(_key(reader))
        while reader.punct(","):
            keys.append(_key(reader))
    return Stats(aggregates, keys)


def _aggregate(reader: _Reader) -> Aggregate:
    function = reader.take()[1].lower()
    if function not in _AGGREGATES:
        raise QueryError(f"unsupported stats function {function!r}")
    reader.expect("(")
    target: str | None
    percentile = 50.0
    if reader.punct("*"):
        if function != "count":
            raise QueryError(f"{function}(*) is not a query")
        target = None
    else:
        target = _field_name(reader.take())
    if function == "pct":
        reader.expect(",")
        percentile = float(_literal(reader.take()))
    reader.expect(")")
    default = f"{function}({target or '*'})"
    name = _field_name(reader.take()) if reader.word("as") else default
    return Aggregate(function, target, name, percentile)


def _key(reader: _Reader) -> Key:
    if reader.word("bin"):
        reader.expect("(")
        kind, text = reader.take()
        unit_match = re.fullmatch(r"(\d+)([smh])", text) if kind == "name" else None
        if kind == "num" and reader.peek() and reader.peek()[0] == "name":  # type: ignore[index]
            unit_match = re.fullmatch(r"(\d+)([smh])", text + reader.take()[1])
        if unit_match is None:
            raise QueryError(f"bad bin size {text!r}")
        reader.expect(")")
        size = int(unit_match.group(1)) * _UNIT_MS[unit_match.group(2)]
        name = _field_name(reader.take()) if reader.word("as") else f"bin({text})"
        return Key("@timestamp", name, size)
    target = _field_name(reader.take())
    name = _field_name(reader.take()) if reader.word("as") else target
    return Key(target, name)


def parse(text: str) -> Query:
    """The query, or `QueryError` naming the first thing outside the subset."""
    query = Query()
    for tokens in _commands(_tokens(text)):
        reader = _Reader(tokens)
        command = reader.take()[1].lower()
        if command == "fields":
            names = [_field_name(reader.take())]
            while reader.punct(","):
                names.append(_field_name(reader.take()))
            query.steps.append(("fields", names))
        elif command == "filter":
            query.steps.append(("filter", _expression(reader)))
        elif command == "stats":
            query.steps.append(("stats", _stats(reader)))
        elif command == "sort":
            name = _field_name(reader.take())
            descending = reader.word("desc")
            if not descending:
                reader.word("asc")
            query.steps.append(("sort", (name, descending)))
        elif command == "limit":
            query.limit = int(_literal(reader.take()))
            if not 0 < query.limit <= MAX_ROWS:
                raise QueryError(f"limit must be between 1 and {MAX_ROWS}")
        else:
            raise QueryError(f"unsupported query command {command!r}")
        if not reader.done():
            raise QueryError(f"unexpected {reader.peek()[1]!r} in {command}")  # type: ignore[index]
    return query


# -- running --------------------------------------------------------------------------


def _number(value: Any) -> float | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _reduce(aggregate: Aggregate, rows: list[Event]) -> Any:
    function, name = aggregate.function, aggregate.field
    if function == "count":
        return len(rows) if name is None else sum(r.get(name) is not None for r in rows)
    if function in ("earliest", "latest"):
        present = [r for r in rows if r.get(name) is not None]  # type: ignore[arg-type]
        if not present:
            return None
        pick = min if function == "earliest" else max
        return pick(present, key=lambda r: r.get("@timestamp", 0))[name]  # type: ignore[index]
    numbers = sorted(n for r in rows if (n := _number(r.get(name))) is not None)  # type: ignore[arg-type]
    if not numbers:
        return None
    if function == "sum":
        return sum(numbers)
    if function == "avg":
        return sum(numbers) / len(numbers)
    if function == "min":
        return numbers[0]
    if function == "max":
        return numbers[-1]
    rank = max(math.ceil(aggregate.percentile / 100 * len(numbers)), 1)  # nearest rank
    return numbers[min(rank, len(numbers)) - 1]


def _group_key(key: Key, row: Event) -> Any:
    value = row.get(key.field) if key.field else None
    if key.bin_ms is not None and value is not None:
        return int(value) - int(value) % key.bin_ms
    return value


def _aggregate_rows(stats: Stats, rows: Iterable[Event]) -> list[Event]:
    groups: dict[tuple[Any, ...], list[Event]] = {}
    for row in rows:
        groups.setdefault(tuple(_group_key(k, row) for k in stats.keys), []).append(row)
    if not stats.keys and not groups:
        groups[()] = []
    out = []
    for values, members in groups.items():
        result: Event = {}
        for key, value in zip(stats.keys, values, strict=True):
            result[key.name] = value
        for aggregate in stats.aggregates:
            result[aggregate.name] = _reduce(aggregate, members)
        out.append(result)
    return out


def _text(value: Any, binned: bool) -> str:
    if binned and isinstance(value, int):
        at = datetime.fromtimestamp(value / 1000, UTC)
        return at.strftime("%Y-%m-%d %H:%M:%S.") + f"{value % 1000:03d}"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


def run(query: Query, events: Iterable[Event], limit: int | None = None) -> list[Row]:
    """The query's rows over events (flattened, see `event_fields`), as Logs Insights
    returns them: field name to text; a field a row lacks is left out of it."""
    rows: Iterable[Event] = events
    binned: set[str] = set()
    aggregated = False
    for kind, step in query.steps:
        if kind == "filter":
            rows = [r for r in rows if step(r)]
        elif kind == "fields":
            rows = [{n: r[n] for n in [*step, "@timestamp"] if n in r} for r in rows]
        elif kind == "stats":
            rows = _aggregate_rows(step, rows)
            binned = {k.name for k in step.keys if k.bin_ms is not None}
            aggregated = True
        elif kind == "sort":
            name, descending = step
            rows = sorted(rows, key=lambda r: (r.get(name) is None, _sort_key(r.get(name))))
            if descending:
                rows = list(reversed(rows))
    rows = list(rows)
    cap = min(query.limit or MAX_ROWS, limit or MAX_ROWS, MAX_ROWS)
    out = []
    for row in rows[:cap]:
        shown = {
            name: _text(value, name in binned) for name, value in row.items() if value is not None
        }
        if not aggregated and "@timestamp" in shown:
            shown["@timestamp"] = _text(int(row["@timestamp"]), True)
        out.append(shown)
    return out


def _sort_key(value: Any) -> tuple[int, Any]:
    number = _number(value)
    return (0, number) if number is not None else (1, str(value))
