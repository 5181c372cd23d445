"""A fake CloudWatch Logs endpoint that runs Logs Insights queries, for the aggregate path.

moto accepts `StartQuery` but ignores `stats`, so the Logs Insights path of `tools.logs`
(counts on the server, then bounded reads) could not be exercised against it, and a
million lines in moto cost gigabytes. This endpoint speaks the AWS JSON 1.1 protocol boto3
uses (`X-Amz-Target: Logs_20140328.<Operation>`) and holds its own lines:

- `CreateLogGroup`, `CreateLogStream`, `PutLogEvents` (at most 10,000 events and
  1,048,576 bytes per batch, as AWS enforces), `DescribeLogGroups`;
- `FilterLogEvents`, oldest first, `nextToken` paging, with the filter-pattern subset
  the tools use: empty, terms (all of them), `?term` (any of them), `"quoted phrase"`,
  `-term`, and `%regex%`;
- `StartQuery`, `GetQueryResults`, `StopQuery`: the query subset of
  `bot.sim.fakes.insights`, and queries over JSON fields (the span tool's) through
  `tools.spans.engine`, run on a worker thread; a query is `Running` for at least
  `query_seconds`, at most `max_concurrent` run at once (more is
  `LimitExceededException`, as in AWS), and `StopQuery` cancels a running one.

Every request is recorded (operation and parameters, not the lines) in `calls`. Reach it
through boto3 with `AWS_ENDPOINT_URL_LOGS`, or behind `bot.sim.fakes.router`. Any other
operation is answered 400 `UnknownOperationException`.
"""

from __future__ import annotations

import bisect
import itertools
import json
import re
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.sim.fakes.http import Handler
from bot.sim.fakes.insights import MalformedQueryError, Table, parse_query, run
from tools.spans import engine as json_engine

MAX_BATCH_EVENTS = 10_000
MAX_BATCH_BYTES = 1_048_576
PAGE = 10_000


@dataclass
class _Group:
    table: Table
    streams: set[str] = field(default_factory=set)
    ordered: bool = True

    def sort(self) -> None:
        """Lines arrive batch by batch; queries want them in time order."""
        if self.ordered:
            return
        table = self.table
        order = sorted(range(len(table.times)), key=table.times.__getitem__)
        table.times = [table.times[i] for i in order]
        table.messages = [table.messages[i] for i in order]
        table.streams = [table.streams[i] for i in order]
        self.ordered = True

    def bounds(self, start_ms: int, end_ms: int) -> tuple[int, int]:
        """Indices of the lines with start_ms <= timestamp <= end_ms."""
        self.sort()
        times = self.table.times
        return bisect.bisect_left(times, start_ms), bisect.bisect_right(times, end_ms)


@dataclass
class _Query:
    status: str = "Scheduled"
    results: list[Any] = field(default_factory=list)
    scanned: int = 0
    ready_at: float = 0.0
    finished: threading.Event = field(default_factory=threading.Event)


class FakeLogs:
    """The store and the operations; `handler` is what `bot.sim.fakes.http.serve` runs."""

    def __init__(self, query_seconds: float = 0.0, max_concurrent: int = 30) -> None:
        self.groups: dict[str, _Group] = {}
        self.queries: dict[str, _Query] = {}
        self.calls: list[dict[str, Any]] = []
        self._parsed: dict[str, list[dict[str, Any]]] = {}  # JSON fields of each group's lines
        self.query_seconds = query_seconds
        self.max_concurrent = max_concurrent
        self._lock = threading.Lock()
        self._operations: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
            "CreateLogGroup": self._create_group,
            "CreateLogStream": self._create_stream,
            "PutLogEvents": self._put,
            "DescribeLogGroups": self._describe_groups,
            "FilterLogEvents": self._filter,
            "StartQuery": self._start_query,
            "GetQueryResults": self._query_results,
            "StopQuery": self._stop_query,
        }

    def handler(self, path: str, headers: dict[str, str], body: bytes):
        operation = headers.get("X-Amz-Target", "").rsplit(".", 1)[-1]
        request = json.loads(body or b"{}")
        self.calls.append({"operation": operation, **_summary(request)})
        method = self._operations.get(operation)
        if method is None:
            return _error("UnknownOperationException", f"{operation} is not faked")
        try:
            answer = method(request)
        except _AwsError as exc:
            return _error(exc.code, exc.message)
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(answer).encode()

    # -- groups and lines ------------------------------------------------------------
    def _group(self, name: str) -> _Group:
        group = self.groups.get(name)
        if group is None:
            raise _AwsError("ResourceNotFoundException", "The specified log group does not exist.")
        return group

    def _create_group(self, request: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            if request["logGroupName"] in self.groups:
                raise _AwsError("ResourceAlreadyExistsException", "The log group already exists")
            self.groups[request["logGroupName"]] = _Group(Table(request["logGroupName"]))
        return {}

    def _create_stream(self, request: dict[str, Any]) -> dict[str, Any]:
        group = self._group(request["logGroupName"])
        if request["logStreamName"] in group.streams:
            raise _AwsError("ResourceAlreadyExistsException", "The log stream already exists")
        group.streams.add(request["logStreamName"])
        return {}

    def _put(self, request: dict[str, Any]) -> dict[str, Any]:
        name, stream = request["logGroupName"], request["logStreamName"]
        group = self._group(name)
        if stream not in group.streams:
            raise _AwsError("ResourceNotFoundException", "The specified log stream does not exist.")
        batch = request.get("logEvents", [])
        size = sum(len(e["message"].encode()) + 26 for e in batch)
        if len(batch) > MAX_BATCH_EVENTS or size > MAX_BATCH_BYTES:
            raise _AwsError("InvalidParameterException", "Upload too large")
        if any(a["timestamp"] > b["timestamp"] for a, b in itertools.pairwise(batch)):
            raise _AwsError(
                "InvalidParameterException",
                "Log events in a single PutLogEvents request must be in chronological order.",
            )
        with self._lock:
            table = group.table
            if batch and table.times and batch[0]["timestamp"] < table.times[-1]:
                group.ordered = False
            table.times += [e["timestamp"] for e in batch]
            table.messages += [e["message"] for e in batch]
            table.streams += [stream] * len(batch)
        return {"nextSequenceToken": str(len(table.times))}

    def _describe_groups(self, request: dict[str, Any]) -> dict[str, Any]:
        prefix = request.get("logGroupNamePrefix", "")
        return {
            "logGroups": [
                {"logGroupName": n, "storedBytes": 0}
                for n in sorted(self.groups)
                if n.startswith(prefix)
            ]
        }

    def _filter(self, request: dict[str, Any]) -> dict[str, Any]:
        group = self._group(request["logGroupName"])
        matches = filter_pattern(request.get("filterPattern") or "")
        with self._lock:
            low, high = group.bounds(request.get("startTime", 0), request.get("endTime", 2**62))
            table = group.table
        position = max(int(request.get("nextToken") or low), low)
        limit = min(int(request.get("limit") or PAGE), PAGE)
        page = []
        while position < high and len(page) < limit:
            message = table.messages[position]
            position += 1
            if matches(message):
                timestamp_ms = table.times[position - 1]
                page.append(
                    {
                        "logStreamName": table.streams[position - 1],
                        "timestamp": timestamp_ms,
                        "message": message,
                        "ingestionTime": timestamp_ms,
                        "eventId": f"{timestamp_ms}-{position}",
                    }
                )
        answer: dict[str, Any] = {"events": page, "searchedLogStreams": []}
        if position < high:
            answer["nextToken"] = str(position)
        return answer

    # -- Logs Insights ---------------------------------------------------------------
    def _start_query(self, request: dict[str, Any]) -> dict[str, Any]:
        names = request.get("logGroupNames") or [request.get("logGroupName")]
        groups = [self._group(n) for n in names if n]
        try:
            query: Any = parse_query(request["queryString"])
        except MalformedQueryError as exc:
            # Queries over JSON fields (the span tool's) run on the JSON interpreter.
            try:
                query = json_engine.parse(request["queryString"])
            except json_engine.QueryError as json_exc:
                raise _AwsError("MalformedQueryErrorException", f"{exc}; {json_exc}") from None
        with self._lock:
            running = sum(q.status in ("Scheduled", "Running") for q in self.queries.values())
            if running >= self.max_concurrent:
                raise _AwsError("LimitExceededException", "Account maximum query concurrency")
            query_id = str(uuid.uuid4())
            state = _Query(status="Running", ready_at=time.monotonic() + self.query_seconds)
            self.queries[query_id] = state
        start_ms, end_ms = request["startTime"] * 1000, request["endTime"] * 1000 + 999

        def work() -> None:
            rows: list[Any] = []
            scanned = 0
            for group in groups:  # the tools ask one group at a time
                with self._lock:
                    low, high = group.bounds(start_ms, end_ms)
                if isinstance(query, json_engine.Query):
                    found, seen = self._run_json(query, group, low, high, request.get("limit"))
                else:
                    found, seen = run(query, group.table, low, high, request.get("limit"))
                rows, scanned = rows + found, scanned + seen
            state.results, state.scanned = rows, scanned
            state.finished.set()

        threading.Thread(target=work, daemon=True).start()
        return {"queryId": query_id}

    def _run_json(
        self, query: json_engine.Query, group: _Group, low: int, high: int, limit: int | None
    ) -> tuple[list[Any], int]:
        """A JSON-field query over the lines [low, high), rows in the wire form."""
        table = group.table
        with self._lock:  # each line parsed once, not once per query
            parsed = self._parsed.get(table.name)
            if parsed is None or len(parsed) != len(table.times):
                parsed = [
                    json_engine.event_fields(t, m)
                    for t, m in zip(table.times, table.messages, strict=True)
                ]
                self._parsed[table.name] = parsed
        rows = json_engine.run(query, parsed[low:high], limit)
        return [[{"field": k, "value": v} for k, v in row.items()] for row in rows], high - low

    def _query_results(self, request: dict[str, Any]) -> dict[str, Any]:
        state = self.queries.get(request["queryId"])
        if state is None:
            raise _AwsError("ResourceNotFoundException", "Query does not exist")
        with self._lock:
            ready = state.finished.is_set() and time.monotonic() >= state.ready_at
            if state.status == "Running" and ready:
                state.status = "Complete"
        answer: dict[str, Any] = {
            "status": state.status,
            "statistics": {"recordsMatched": 0.0, "recordsScanned": float(state.scanned)},
            "results": state.results if state.status == "Complete" else [],
        }
        if state.status == "Complete":
            answer["statistics"]["recordsMatched"] = float(len(state.results))
        return answer

    def _stop_query(self, request: dict[str, Any]) -> dict[str, Any]:
        state = self.queries.get(request["queryId"])
        if state is None:
            raise _AwsError("ResourceNotFoundException", "Query does not exist")
        with self._lock:
            if state.status != "Running":
                return {"success": False}
            state.status = "Cancelled"
        return {"success": True}


def filter_pattern(pattern: str) -> Callable[[str], bool]:
    """A CloudWatch Logs filter pattern (the subset in the module docstring) as a test."""
    text = pattern.strip()
    if not text:
        return lambda message: True
    if text.startswith("%") and text.endswith("%") and len(text) > 1:
        regex = re.compile(text[1:-1])
        return lambda message: regex.search(message) is not None
    if text.startswith("{") or text.startswith("["):
        raise _AwsError("InvalidParameterException", "JSON and delimited patterns are not faked")
    terms = re.findall(r'[?-]?"[^"]*"|\S+', text)
    wanted, any_of, excluded = [], [], []
    for term in terms:
        prefix = term[0] if term[0] in "?-" else ""
        word = term[len(prefix) :].strip('"')
        {"?": any_of, "-": excluded, "": wanted}[prefix].append(word)
    return lambda message: (
        all(w in message for w in wanted)
        and (not any_of or any(w in message for w in any_of))
        and not any(w in message for w in excluded)
    )


class _AwsError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def _error(code: str, message: str):
    body = json.dumps({"__type": code, "message": message}).encode()
    return 400, {"Content-Type": "application/x-amz-json-1.1"}, body


def _summary(request: dict[str, Any]) -> dict[str, Any]:
    """A request as recorded: its parameters, without the lines it carries."""
    summary = {k: v for k, v in request.items() if k != "logEvents"}
    if "logEvents" in request:
        summary["events"] = len(request["logEvents"])
    return summary


def fake_logs(fake: FakeLogs) -> Handler:
    return fake.handler
