"""A fake X-Ray endpoint that runs filter expressions and samples, for the traces tool.

moto answers `GetTraceSummaries` with every trace in one page and refuses a
`FilterExpression` (500 "Not implemented yet"), and `BatchGetTraces` never leaves ids
unprocessed; so the traces tool's production path (a fixed-rate sample, every failing
trace through an expression, batches of five with retries) could not be exercised. This
endpoint speaks X-Ray's REST-JSON protocol as boto3 does and holds its own segments:

- `PutTraceSegments`;
- `GetTraceSummaries` for traces starting in [StartTime, EndTime], `page_size` per page
  with `NextToken`, `Sampling` with a `FixedRate` strategy (a stable share of trace ids),
  and the filter-expression subset: `fault`, `error`, `throttle`, `ok`,
  `responsetime`/`duration` compared (`>`, `>=`, `<`, `<=`, `=`) with a number of
  seconds, `service("name")`, `AND`, `OR`, `NOT`/`!` and parentheses; anything else is
  `InvalidRequestException`, as AWS rejects an expression it cannot parse;
- `BatchGetTraces` of at most five ids, `traces_per_page` traces per page with
  `NextToken`, and every `unprocessed_every`-th id left in `UnprocessedTraceIds` the
  first time it is asked for;
- `GetTraceSegmentDestination`: `destination` (`XRay`, or `CloudWatchLogs` when
  Transaction Search is on), `ACTIVE`.

A summary says what X-Ray's does: `Id`, `Duration` and `ResponseTime` (seconds),
`HasFault`/`HasError`/`HasThrottle`, `ServiceIds` (every non-inferred segment and every
AWS or remote subsegment), `EntryPoint` (the first segment), `Http`, `Annotations`.
Requests are recorded (`calls`: operation and parameters).
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_TOKEN = re.compile(
    r"\s*(?:(?P<paren>[()])|(?P<op>>=|<=|!=|=|>|<|!)|(?P<num>\d+(?:\.\d+)?)|"
    r'(?P<call>service)\(\s*"(?P<arg>[^"]*)"\s*\)|(?P<word>[A-Za-z_]+))'
)
_PATHS = {
    "/TraceSegments": "PutTraceSegments",
    "/TraceSummaries": "GetTraceSummaries",
    "/Traces": "BatchGetTraces",
    "/GetTraceSegmentDestination": "GetTraceSegmentDestination",
}


class BadExpressionError(ValueError):
    """A filter expression outside the subset the fake runs."""


@dataclass
class _Trace:
    id: str
    segments: list[str] = field(default_factory=list)
    start: float = float("inf")
    end: float = 0.0
    response: float = 0.0
    fault: bool = False
    error: bool = False
    throttle: bool = False
    services: set[str] = field(default_factory=set)
    entry: str | None = None
    entry_start: float = float("inf")
    status: int | None = None
    annotations: dict[str, Any] = field(default_factory=dict)

    def add(self, document: dict[str, Any], raw: str) -> None:
        self.segments.append(raw)
        start, end = float(document["start_time"]), float(document.get("end_time") or 0)
        top = "parent_id" not in document
        if top and start <= self.entry_start:  # the entry point: the first root segment
            self.entry, self.entry_start = document.get("name"), start
            self.response = max(end - start, 0.0)
        if top:
            self.status = (document.get("http") or {}).get("response", {}).get("status")
            for key, value in (document.get("annotations") or {}).items():
                self.annotations[key] = value
        self.start, self.end = min(self.start, start), max(self.end, end)
        for node in _walk(document):
            self.fault |= bool(node.get("fault"))
            self.error |= bool(node.get("error"))
            self.throttle |= bool(node.get("throttle"))
        if not document.get("inferred"):
            self.services.add(str(document.get("name")))
        for sub in _walk(document):
            if sub is not document and sub.get("namespace") in ("aws", "remote"):
                self.services.add(str(sub.get("name")))
        if self.entry is None:
            self.response = max(self.end - self.start, 0.0)

    def summary(self) -> dict[str, Any]:
        found: dict[str, Any] = {
            "Id": self.id,
            "StartTime": self.start,
            "Duration": round(self.end - self.start, 3),
            "ResponseTime": round(self.response, 3),
            "HasFault": self.fault,
            "HasError": self.error,
            "HasThrottle": self.throttle,
            "IsPartial": False,
            "ServiceIds": [{"Name": name, "Names": [name]} for name in sorted(self.services)],
            "Annotations": {
                key: [{"AnnotationValue": {"StringValue": str(value)}}]
                for key, value in self.annotations.items()
            },
        }
        if self.entry:
            found["EntryPoint"] = {"Name": self.entry, "Names": [self.entry]}
        if self.status:
            found["Http"] = {"HttpStatus": self.status}
        return found


def _walk(document: dict[str, Any]):
    yield document
    for sub in document.get("subsegments") or []:
        yield from _walk(sub)


def _tokens(expression: str) -> list[tuple[str, str]]:
    found, position = [], 0
    text = expression.strip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        if not match or match.end() == position:
            raise BadExpressionError(f"cannot parse the filter expression at {text[position:]!r}")
        position = match.end()
        kind = match.lastgroup or ""
        if kind == "arg":
            found.append(("service", match.group("arg")))
        else:
            found.append((kind, match.group(kind)))
    return found


def compile_expression(expression: str):
    """A filter expression (the subset in the module docstring) -> a test on a trace."""
    tokens = _tokens(expression)
    position = 0

    def peek() -> tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def take() -> tuple[str, str]:
        nonlocal position
        if position >= len(tokens):
            raise BadExpressionError("the filter expression ends too early")
        position += 1
        return tokens[position - 1]

    def either():
        left = both()
        while (token := peek()) and token == ("word", token[1]) and token[1].upper() == "OR":
            take()
            right, first = both(), left
            left = lambda t, a=first, b=right: a(t) or b(t)  # noqa: E731
        return left

    def both():
        left = one()
        while (token := peek()) and token[0] == "word" and token[1].upper() == "AND":
            take()
            right, first = one(), left
            left = lambda t, a=first, b=right: a(t) and b(t)  # noqa: E731
        return left

    def one():
        kind, value = take()
        if (kind, value) == ("paren", "("):
            inner = either()
            if take() != ("paren", ")"):
                raise BadExpressionError("unbalanced parentheses in the filter expression")
            return inner
        if (kind == "op" and value == "!") or (kind == "word" and value.upper() == "NOT"):
            inner = one()
            return lambda t: not inner(t)
        if kind == "service":
            return lambda t, name=value: name in t.services
        if kind == "word" and value.lower() in ("fault", "error", "throttle"):
            flag = value.lower()
            return lambda t: getattr(t, flag)
        if kind == "word" and value.lower() == "ok":
            return lambda t: not (t.fault or t.error or t.throttle)
        if kind == "word" and value.lower() in ("responsetime", "duration"):
            op_kind, op = take()
            number_kind, number = take()
            if op_kind != "op" or number_kind != "num":
                raise BadExpressionError(f"{value} needs a comparison with a number")
            limit = float(number)
            pick = (
                (lambda t: t.response)
                if value.lower() == "responsetime"
                else (lambda t: t.end - t.start)
            )
            compare = {
                ">": lambda a: a > limit,
                ">=": lambda a: a >= limit,
                "<": lambda a: a < limit,
                "<=": lambda a: a <= limit,
                "=": lambda a: a == limit,
                "!=": lambda a: a != limit,
            }[op]
            return lambda t: compare(pick(t))
        raise BadExpressionError(f"{value!r} is not part of the faked filter expressions")

    test = either()
    if position != len(tokens):
        raise BadExpressionError("unexpected words at the end of the filter expression")
    return test


def _share(trace_id: str) -> float:
    """A stable number in [0, 1) per trace: which traces a fixed-rate sample keeps."""
    digest = hashlib.sha256(trace_id.encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _epoch(value: Any) -> float:
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).astimezone(UTC).timestamp()


class FakeXRay:
    """The store and the operations; `handler` is what `bot.sim.fakes.http.serve` runs."""

    def __init__(
        self,
        page_size: int = 100,
        traces_per_page: int = 3,
        unprocessed_every: int = 7,
        destination: str = "XRay",
    ) -> None:
        self.destination = destination  # CloudWatchLogs: Transaction Search is on
        self.traces: dict[str, _Trace] = {}
        self.calls: list[dict[str, Any]] = []
        self.page_size = page_size
        self.traces_per_page = traces_per_page
        self.unprocessed_every = unprocessed_every
        self._asked: set[str] = set()
        self._results: dict[str, list[str]] = {}
        self._lock = threading.Lock()

    def handler(self, path: str, headers: dict[str, str], body: bytes):
        operation = _PATHS.get(path.split("?", 1)[0])
        request = json.loads(body or b"{}")
        self.calls.append({"operation": operation or path, **_summary(request)})
        try:
            if operation == "PutTraceSegments":
                answer = self._put(request)
            elif operation == "GetTraceSummaries":
                answer = self._summaries(request)
            elif operation == "BatchGetTraces":
                answer = self._batch(request)
            elif operation == "GetTraceSegmentDestination":
                answer = {"Destination": self.destination, "Status": "ACTIVE"}
            else:
                return _error(404, "UnknownOperationException", f"{path} is not faked")
        except BadExpressionError as exc:
            return _error(400, "InvalidRequestException", str(exc))
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()

    def _put(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            for raw in request.get("TraceSegmentDocuments", []):
                document = json.loads(raw)
                trace_id = document["trace_id"]
                self.traces.setdefault(trace_id, _Trace(trace_id)).add(document, raw)
        return {"UnprocessedTraceSegments": []}

    def _summaries(self, request: dict[str, Any]) -> dict[str, Any]:
        token = request.get("NextToken")
        if token:
            offset, _, key = token.partition(":")
            ids = self._results.get(key, [])
        else:
            start, end = _epoch(request["StartTime"]), _epoch(request["EndTime"])
            test = (
                compile_expression(request.get("FilterExpression") or "")
                if request.get("FilterExpression")
                else (lambda t: True)
            )
            rate = 1.0
            strategy = request.get("SamplingStrategy") or {}
            if request.get("Sampling") and strategy.get("Name") == "FixedRate":
                rate = float(strategy.get("Value", 1.0))
            with self._lock:
                traces = list(self.traces.values())
            ids = [
                t.id
                for t in sorted(traces, key=lambda t: t.start)
                if start <= t.start <= end and _share(t.id) < rate and test(t)
            ]
            key, offset = str(len(self._results)), "0"
            self._results[key] = ids
        position = int(offset)
        page = ids[position : position + self.page_size]
        answer: dict[str, Any] = {
            "TraceSummaries": [self.traces[i].summary() for i in page],
            "TracesProcessedCount": len(page),
            "ApproximateTime": datetime.now(UTC).timestamp(),
        }
        if position + self.page_size < len(ids):
            answer["NextToken"] = f"{position + self.page_size}:{key}"
        return answer

    def _batch(self, request: dict[str, Any]) -> dict[str, Any]:
        ids = request.get("TraceIds", [])
        if len(ids) > 5:
            raise BadExpressionError("BatchGetTraces takes at most 5 trace ids")
        offset = int(request.get("NextToken") or 0)
        unprocessed, ready = [], []
        for position, trace_id in enumerate(ids):
            fresh = trace_id not in self._asked
            self._asked.add(trace_id)
            every = self.unprocessed_every
            if fresh and every and (len(self._asked) % every == 0) and offset == 0:
                unprocessed.append(trace_id)
            elif trace_id in self.traces and position >= offset:
                ready.append(trace_id)
        page = ready[: self.traces_per_page]
        answer: dict[str, Any] = {
            "Traces": [
                {
                    "Id": trace_id,
                    "Duration": self.traces[trace_id].end - self.traces[trace_id].start,
                    "Segments": [
                        {"Id": json.loads(raw)["id"], "Document": raw}
                        for raw in self.traces[trace_id].segments
                    ],
                }
                for trace_id in page
            ],
            "UnprocessedTraceIds": unprocessed,
        }
        if len(ready) > len(page):
            answer["NextToken"] = str(ids.index(ready[len(page)]))
        return answer


def _summary(request: dict[str, Any]) -> dict[str, Any]:
    found = {k: v for k, v in request.items() if k != "TraceSegmentDocuments"}
    if "TraceSegmentDocuments" in request:
        found["segments"] = len(request["TraceSegmentDocuments"])
    return found


def _error(status: int, code: str, message: str):
    body = json.dumps({"__type": code, "message": message, "Message": message}).encode()
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": code}, body
