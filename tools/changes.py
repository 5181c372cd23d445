"""Recent changes: CloudTrail management events, each placed relative to the onset.

"What changed right before it broke?" decides between a bad deploy, a prompt
regression, an access change and a cause outside our control. Each change is
marked related when it names one of the service's resources.

`LookupEvents` is the production path. Where the endpoint cannot answer it (an
emulator), the same records are read from the CloudWatch Logs group that a
CloudTrail trail delivers to, which is also where many teams query them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from tools.aws import AwsClients, describe_error, error_code
from tools.base import TimeRange, Tool, ToolError, ToolInput, ToolResult, fmt_offset, utc
from tools.logs import filter_events

MAX_EVENTS = 500
_UNSUPPORTED = {"NotImplemented", "InternalFailure", "InternalError", "UnknownOperationException"}


@dataclass
class Change:
    at: datetime
    source: str
    name: str
    user: str
    resources: list[str]
    request: dict[str, str] = field(default_factory=dict)
    related: bool = False

    def minutes_before(self, onset: datetime) -> float:
        return (onset - self.at) / timedelta(minutes=1)

    def line(self, window: TimeRange) -> str:
        params = ", ".join(f"{k}={v}" for k, v in list(self.request.items())[:8])
        who = self.user.rsplit("/", 1)[-1] if self.user else "?"
        where = ", ".join(self.resources) or "?"
        gap = self.minutes_before(window.onset)
        distance = f"{gap:.0f} min before onset" if gap >= 0 else f"{-gap:.0f} min after onset"
        tag = "" if self.related else " [other resource]"
        return (
            f"{self.name} ({self.source.split('.')[0]}) on {where}{tag} at "
            f"{fmt_offset(window.minutes_from_t0(self.at))}, {distance}, by {who}"
            + (f": {params}" if params else "")
        )


def flatten(value: Any, prefix: str = "") -> dict[str, str]:
    """Nested request parameters -> `environment.variables.PROMPT_VERSION: v18`."""
    flat: dict[str, str] = {}
    if isinstance(value, dict):
        for key, inner in value.items():
            flat.update(flatten(inner, f"{prefix}.{key}" if prefix else str(key)))
    elif isinstance(value, list) and value and all(isinstance(i, dict) for i in value):
        for index, inner in enumerate(value[:5]):
            flat.update(flatten(inner, f"{prefix}[{index}]"))
    else:
        text = value if isinstance(value, str) else json.dumps(value)
        flat[prefix or "value"] = text[:200]
    return flat


def from_record(record: dict[str, Any], resources: list[str] | None = None) -> Change | None:
    """A CloudTrail record (the `CloudTrailEvent` JSON) -> Change; None if not a change."""
    if record.get("readOnly") is True or not record.get("eventName"):
        return None
    try:
        at = utc(datetime.fromisoformat(str(record["eventTime"]).replace("Z", "+00:00")))
    except (KeyError, ValueError):
        return None
    identity = record.get("userIdentity") or {}
    user = identity.get("arn") or identity.get("userName") or ""
    request = record.get("requestParameters") or {}
    names = list(resources or [])
    if not names and isinstance(request, dict):
        for key in ("functionName", "roleName", "guardrailIdentifier", "name", "tableName"):
            if request.get(key):
                names.append(str(request[key]))
    return Change(
        at=at,
        source=str(record.get("eventSource", "")),
        name=str(record["eventName"]),
        user=str(user),
        resources=names,
        request=flatten(request) if isinstance(request, dict) else {},
    )


def lookup_events(aws: AwsClients, start: datetime, end: datetime) -> list[Change]:
    client = aws.client("cloudtrail", probe=True)
    kwargs: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}],
        "StartTime": start,
        "EndTime": end,
        "MaxResults": 50,
    }
    changes: list[Change] = []
    seen = 0
    while seen < MAX_EVENTS:
        page = client.lookup_events(**kwargs)
        for event in page.get("Events", []):
            seen += 1
            try:
                record = json.loads(event.get("CloudTrailEvent") or "{}")
            except ValueError:
                record = {}
            record.setdefault("eventName", event.get("EventName"))
            record.setdefault("eventSource", event.get("EventSource"))
            if "eventTime" not in record and event.get("EventTime"):
                record["eventTime"] = utc(event["EventTime"]).isoformat()
            names = [r["ResourceName"] for r in event.get("Resources", []) if r.get("ResourceName")]
            change = from_record(record, names)
            if change:
                changes.append(change)
        token = page.get("NextToken")
        if not token:
            break
        kwargs["NextToken"] = token
    return changes


def from_log_group(aws: AwsClients, group: str, start: datetime, end: datetime) -> list[Change]:
    window = TimeRange(start=start, end=end, onset=end)
    events, _ = filter_events(aws, group, window)
    changes = []
    for _, message in events:
        try:
            record = json.loads(message)
        except ValueError:
            continue
        if isinstance(record, dict):
            change = from_record(record)
            if change:
                changes.append(change)
    return changes


class ChangesInput(ToolInput):
    start: datetime
    end: datetime
    onset: datetime
    t0: datetime | None = None
    related_names: list[str] = Field(default_factory=list, max_length=100)
    fallback_log_group: str | None = None


def mark_related(changes: list[Change], names: list[str]) -> None:
    wanted = [n.lower() for n in names if n]
    for change in changes:
        haystack = " ".join([*change.resources, *change.request.values()]).lower()
        change.related = any(name in haystack for name in wanted)


def render(changes: list[Change], window: TimeRange) -> str:
    if not changes:
        return "- no write events in the lookback"
    ordered = sorted(changes, key=lambda c: (not c.related, abs(c.minutes_before(window.onset))))
    lines = [f"- {c.line(window)}" for c in ordered[:10]]
    if len(changes) > 10:
        lines.append(f"- ... {len(changes) - 10} more changes")
    return "\n".join(lines)


class ChangesTool(Tool[ChangesInput]):
    name = "get_recent_changes"
    description = (
        "CloudTrail write events (deploys, configuration, IAM, guardrail and model-access "
        "changes) in a time range, each with its distance to the onset and its request "
        "parameters; changes naming the service's resources are listed first."
    )
    Input = ChangesInput

    def run(self, params: ChangesInput) -> ToolResult:
        window = TimeRange(start=params.start, end=params.end, onset=params.onset, t0=params.t0)
        found = collect(self.aws, window.start, window.end, params.fallback_log_group)
        return analyze(found, window, params.related_names)


@dataclass
class Collected:
    changes: list[Change]
    path: str
    notes: list[str] = field(default_factory=list)


def collect(
    aws: AwsClients, start: datetime, end: datetime, fallback_log_group: str | None
) -> Collected:
    """LookupEvents, or the trail's log group where the endpoint lacks LookupEvents."""
    try:
        return Collected(lookup_events(aws, start, end), "lookup_events")
    except Exception as exc:
        reason = describe_error(exc)
        code = error_code(exc)
        # An endpoint that answers without an AWS error code does not speak the API.
        unsupported = code in _UNSUPPORTED or code.isdigit()
        if not fallback_log_group or not unsupported:
            raise ToolError(f"CloudTrail LookupEvents failed: {reason}") from exc
    note = f"LookupEvents unavailable here; read {fallback_log_group}"
    try:
        return Collected(from_log_group(aws, fallback_log_group, start, end), "log_group", [note])
    except Exception as inner:
        if error_code(inner) == "ResourceNotFoundException":
            note = (
                f"LookupEvents unavailable here and no {fallback_log_group} log group: "
                "no change events recorded"
            )
            return Collected([], "log_group", [note])
        raise ToolError(
            f"CloudTrail LookupEvents unavailable ({reason}) and log group "
            f"{fallback_log_group} unreadable: {describe_error(inner)}"
        ) from inner


def analyze(found: Collected, window: TimeRange, related_names: list[str]) -> ToolResult:
    changes = sorted(found.changes, key=lambda c: c.at)
    mark_related(changes, related_names)
    data = {"changes": changes, "path": found.path}
    return ToolResult(ChangesTool.name, render(changes, window), data, list(found.notes))
