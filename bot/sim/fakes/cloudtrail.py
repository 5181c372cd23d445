"""A fake CloudTrail endpoint: `LookupEvents` answered from a list, for the changes tool.

The emulator cannot answer `LookupEvents`, so without this the production path of
`tools.changes` (rather than its log-group fallback) would go untested. Speaks the AWS
JSON 1.1 protocol boto3 uses (`X-Amz-Target: ...LookupEvents`, `NextToken` paging, two
events per page so paging is exercised) and records every request, target and body, in
the caller's `calls` list. Any other operation is answered 400
`UnknownOperationException`.
"""

from __future__ import annotations

import json
from typing import Any

from bot.sim.fakes.http import Handler


def fake_cloudtrail(events: list[dict[str, Any]], calls: list[dict[str, Any]]) -> Handler:
    """A CloudTrail endpoint answering `LookupEvents` (JSON 1.1) from a list, two per page."""

    def handle(path: str, headers: dict[str, str], body: bytes):
        target = headers.get("X-Amz-Target", "")
        request = json.loads(body or b"{}")
        calls.append({"target": target, **request})
        if not target.endswith("LookupEvents"):
            return 400, {}, b'{"__type": "UnknownOperationException"}'
        start = int(request.get("NextToken") or 0)
        page = {"Events": events[start : start + 2]}
        if start + 2 < len(events):
            page["NextToken"] = str(start + 2)
        return 200, {"Content-Type": "application/x-amz-json-1.1"}, json.dumps(page).encode()

    return handle
