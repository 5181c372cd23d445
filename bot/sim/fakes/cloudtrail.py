"""A fake CloudTrail endpoint: `LookupEvents` answered from a list, for the changes tool.

The emulator cannot answer `LookupEvents`, so without this the production path of
`tools.changes` (rather than its log-group fallback) would go untested. Speaks the AWS
JSON 1.1 protocol boto3 uses (`X-Amz-Target: ...LookupEvents`) as the API does:

- one lookup attribute per call (`ResourceName`, `EventSource`, `EventName`, `ReadOnly`,
  `Username`, `EventId`, `ResourceType`; more than one is `InvalidLookupAttributesException`);
- `StartTime` / `EndTime`, newest events first, `MaxResults` (at most 50) per page and
  `NextToken` paging (`page_size` makes pages smaller, so paging is exercised);
- two calls a second per account (a token bucket with a burst of two, `per_second`);
  a faster caller gets `ThrottlingException: Rate exceeded`.

Every request (target and body) is recorded in the caller's `calls` list, throttled ones
too (marked `throttled`). Any other operation is answered 400 `UnknownOperationException`.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any

from bot.sim.fakes.http import Handler

_ATTRIBUTES = {
    "ResourceName",
    "ResourceType",
    "EventSource",
    "EventName",
    "ReadOnly",
    "Username",
    "EventId",
}


def _epoch(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def _matches(event: dict[str, Any], key: str, value: str) -> bool:
    if key == "ResourceName":
        return any(r.get("ResourceName") == value for r in event.get("Resources") or [])
    if key == "ResourceType":
        return any(r.get("ResourceType") == value for r in event.get("Resources") or [])
    if key == "ReadOnly":
        return str(event.get("ReadOnly", "false")).lower() == value.lower()
    return str(event.get(key, "")) == value


def _error(code: str, message: str):
    body = json.dumps({"__type": code, "message": message}).encode()
    return 400, {"Content-Type": "application/x-amz-json-1.1"}, body


def fake_cloudtrail(
    events: list[dict[str, Any]],
    calls: list[dict[str, Any]],
    page_size: int = 50,
    per_second: float = 2.0,
) -> Handler:
    """A CloudTrail endpoint answering `LookupEvents` (JSON 1.1) from a list."""
    bucket = {"tokens": 2.0, "at": time.monotonic()}
    lock = threading.Lock()
    stored = sorted(events, key=lambda e: _epoch(e["EventTime"]), reverse=True)

    def allowed() -> bool:
        with lock:
            now = time.monotonic()
            bucket["tokens"] = min(2.0, bucket["tokens"] + (now - bucket["at"]) * per_second)
            bucket["at"] = now
            if bucket["tokens"] < 0.9:  # AWS's own enforcement is not to the millisecond
                return False
            bucket["tokens"] -= 1
            return True

    def handle(path: str, headers: dict[str, str], body: bytes):
        target = headers.get("X-Amz-Target", "")
        request = json.loads(body or b"{}")
        call = {"target": target, **request}
        calls.append(call)
        if not target.endswith("LookupEvents"):
            return 400, {}, b'{"__type": "UnknownOperationException"}'
        if not allowed():
            call["throttled"] = True
            return _error("ThrottlingException", "Rate exceeded")
        attributes = request.get("LookupAttributes") or []
        if len(attributes) > 1 or any(a.get("AttributeKey") not in _ATTRIBUTES for a in attributes):
            return _error("InvalidLookupAttributesException", "Only one lookup attribute")
        wanted = int(request.get("MaxResults") or 50)
        if not 1 <= wanted <= 50:
            return _error("InvalidMaxResultsException", "MaxResults must be 1 to 50")
        start = _epoch(request["StartTime"]) if "StartTime" in request else float("-inf")
        end = _epoch(request["EndTime"]) if "EndTime" in request else float("inf")
        found = [
            e
            for e in stored
            if start <= _epoch(e["EventTime"]) <= end
            and all(_matches(e, a["AttributeKey"], a["AttributeValue"]) for a in attributes)
        ]
        offset = int(request.get("NextToken") or 0)
        size = min(wanted, page_size)
        page_events = [
            {**e, "EventTime": _epoch(e["EventTime"])} for e in found[offset : offset + size]
        ]
        page: dict[str, Any] = {"Events": page_events}
        if offset + size < len(found):
            page["NextToken"] = str(offset + size)
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(page).encode()

    return handle
