"""Recent changes: CloudTrail management events, each placed relative to the onset.

"What changed right before it broke?" decides between a bad deploy, a prompt
regression, an access change and a cause outside our control. Each change is
marked related when it names one of the service's resources.

`LookupEvents` is the production path. It takes one lookup attribute per call and allows
two calls a second per account and region, and a busy account writes thousands of events
a day, so the service's own resources are looked up by name first (`ResourceName`), then
the event sources that change a GenAI service (`EventSource` bedrock, lambda, iam), each
newest first up to `MAX_PER_LOOKUP` events; a lookup cut there, or not run before the
deadline, is stated. Calls wait on a shared rate limiter and the client retries
throttling adaptively. Where the endpoint cannot answer `LookupEvents` (an emulator), the
same records are read from the CloudWatch Logs group that a CloudTrail trail delivers
to, which is also where many teams query them.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pydantic import Field

from tools.aws import AwsClients, describe_error, error_code
from tools.base import TimeRange, Tool, ToolError, ToolInput, ToolResult, fmt_offset, utc
from tools.logs import filter_events

MAX_PER_LOOKUP = 100  # events read per lookup attribute, newest first
MAX_RESOURCE_LOOKUPS = 8
EVENT_SOURCES = ("bedrock.amazonaws.com", "lambda.amazonaws.com", "iam.amazonaws.com")
LOOKUPS_PER_SECOND = 2.0  # LookupEvents' limit per account and region
_THROTTLED = {"ThrottlingException", "TooManyRequestsException", "RequestLimitExceeded"}
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
    event_id: str = ""

    def minutes_before(self, onset: datetime) -> float:
        return (onset - self.at) / timedelta(minutes=1)

    def line(self, window: TimeRange) -> str:
        """One line: what, where, who, then the onset and the change's distance to it,
        worded the same way everywhere ("onset T0-22m; change at T0-23m, 1 min before
        onset"), then the parameters it set."""
        params = ", ".join(f"{k}={v}" for k, v in list(self.request.items())[:8])
        who = self.user.rsplit("/", 1)[-1] if self.user else "?"
        where = ", ".join(self.resources) or "?"
        tag = "" if self.related else " [other resource]"
        return (
            f"{self.name} ({self.source.split('.')[0]}) on {where}{tag} by {who}; "
            f"{onset_distance(window, self.at, 'change')}" + (f": {params}" if params else "")
        )


def onset_distance(window: TimeRange, at: datetime, what: str) -> str:
    """`onset T0-22m; change at T0-23m, 1 min before onset`: the one wording of a moment
    relative to the onset."""
    gap = (window.onset - at) / timedelta(minutes=1)
    onset = fmt_offset(window.minutes_from_t0(window.onset))
    when = fmt_offset(window.minutes_from_t0(at))
    if round(gap) == 0:
        distance = "at onset"
    elif gap > 0:
        distance = f"{gap:.0f} min before onset"
    else:
        distance = f"{-gap:.0f} min after onset"
    return f"onset {onset}; {what} at {when}, {distance}"


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


@dataclass
class Lookup:
    """One lookup attribute's read: what it found and whether older events were left."""

    key: str
    value: str
    changes: list[Change] = field(default_factory=list)
    read: int = 0
    cut: bool = False
    oldest: datetime | None = None
    skipped: bool = False  # not run before the deadline


def _change(event: dict[str, Any]) -> Change | None:
    try:
        record = json.loads(event.get("CloudTrailEvent") or "{}")
    except ValueError:
        record = {}
    if not isinstance(record, dict):
        record = {}
    record.setdefault("eventName", event.get("EventName"))
    record.setdefault("eventSource", event.get("EventSource"))
    if "readOnly" not in record and str(event.get("ReadOnly", "")).lower() == "true":
        record["readOnly"] = True
    if "eventTime" not in record and event.get("EventTime"):
        at = event["EventTime"]
        record["eventTime"] = (
            utc(at).isoformat() if isinstance(at, datetime) else str(at).replace(" ", "T")
        )
    names = [r["ResourceName"] for r in event.get("Resources") or [] if r.get("ResourceName")]
    change = from_record(record, names)
    if change is not None:
        change.event_id = str(event.get("EventId") or "")
    return change


def lookup(
    aws: AwsClients,
    key: str,
    value: str,
    start: datetime,
    end: datetime,
    deadline: float,
    probe: bool = False,
) -> Lookup:
    """Events with one lookup attribute, newest first, up to MAX_PER_LOOKUP; rate-limited."""
    client = aws.client("cloudtrail", probe=probe)
    limiter = aws.limiter("cloudtrail:LookupEvents", LOOKUPS_PER_SECOND, burst=2)
    found = Lookup(key, value)
    kwargs: dict[str, Any] = {
        "LookupAttributes": [{"AttributeKey": key, "AttributeValue": value}],
        "StartTime": start,
        "EndTime": end,
        "MaxResults": 50,
    }
    while True:
        if not limiter.wait(deadline):
            found.cut = True
            found.skipped = found.read == 0
            return found
        page = client.lookup_events(**kwargs)
        for event in page.get("Events", []):
            found.read += 1
            if event.get("EventTime"):
                at = utc(event["EventTime"]) if isinstance(event["EventTime"], datetime) else None
                found.oldest = min(found.oldest, at) if found.oldest and at else at
            if change := _change(event):
                found.changes.append(change)
        token = page.get("NextToken")
        if not token:
            return found
        if found.read >= MAX_PER_LOOKUP:
            found.cut = True
            return found
        kwargs["NextToken"] = token


def lookups(resources: list[str]) -> list[tuple[str, str]]:
    """The lookups to run, most specific first: the service's resources by name, then the
    event sources that change a GenAI service (or every write, with no resources)."""
    named = [("ResourceName", name) for name in dict.fromkeys(resources) if name]
    named = named[:MAX_RESOURCE_LOOKUPS]
    sources = [("EventSource", source) for source in EVENT_SOURCES]
    return [*named, *sources] if named else [("ReadOnly", "false"), *sources]


def lookup_events(
    aws: AwsClients,
    start: datetime,
    end: datetime,
    resources: list[str] | None = None,
    timeout_s: float = 20.0,
) -> tuple[list[Change], list[Lookup]]:
    """Every lookup's write events, each event once; the first call is a probe (one
    attempt) so that an endpoint without the API is found out at once."""
    deadline = time.monotonic() + timeout_s
    done: list[Lookup] = []
    seen: dict[str, Change] = {}
    for index, (key, value) in enumerate(lookups(list(resources or []))):
        try:
            found = lookup(aws, key, value, start, end, deadline, probe=index == 0)
        except Exception as exc:
            if index or error_code(exc) not in _THROTTLED:
                raise
            found = lookup(aws, key, value, start, end, deadline)  # busy, not missing
        done.append(found)
        for change in found.changes:
            identity = change.event_id or f"{change.name}:{change.at.isoformat()}"
            seen.setdefault(identity, change)
    return list(seen.values()), done


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
        "parameters; looked up by the related_names (the service's resources) and by the "
        "bedrock, lambda and iam event sources, newest first; changes naming the service's "
        "resources are listed first, and the result says which lookups were cut."
    )
    Input = ChangesInput

    def run(self, params: ChangesInput) -> ToolResult:
        window = TimeRange(start=params.start, end=params.end, onset=params.onset, t0=params.t0)
        found = collect(
            self.aws,
            window.start,
            window.end,
            params.fallback_log_group,
            params.related_names,
            params.timeout_s,
            window.t0,
        )
        return analyze(found, window, params.related_names)


@dataclass
class Collected:
    changes: list[Change]
    path: str
    notes: list[str] = field(default_factory=list)
    sampling: list[str] = field(default_factory=list)


def describe_lookups(done: list[Lookup], t0: datetime | None = None) -> list[str]:
    """What the evidence says it read of CloudTrail: the lookups, and which were cut."""
    names = [f.value for f in done if f.key == "ResourceName"]
    sources = [f.value.split(".")[0] for f in done if f.key == "EventSource"]
    line = "CloudTrail LookupEvents"
    if names:
        line += f" by ResourceName ({', '.join(names)})"
    if sources:
        line += f" and by EventSource ({', '.join(sources)})"
    line += f", newest first, up to {MAX_PER_LOOKUP} events each"
    cut = [f for f in done if f.cut and not f.skipped]
    skipped = [f for f in done if f.skipped]
    if cut:
        where = ", ".join(
            f"{f.value} (to {fmt_offset((f.oldest - t0) / timedelta(minutes=1))})"
            if f.oldest and t0
            else f.value
            for f in cut
        )
        line += f"; cut at the newest {MAX_PER_LOOKUP}, older not read: {where}"
    if skipped:
        line += f"; not run before the deadline: {', '.join(f.value for f in skipped)}"
    return [line]


def collect(
    aws: AwsClients,
    start: datetime,
    end: datetime,
    fallback_log_group: str | None,
    resources: list[str] | None = None,
    timeout_s: float = 20.0,
    t0: datetime | None = None,
) -> Collected:
    """LookupEvents, or the trail's log group where the endpoint lacks LookupEvents."""
    try:
        found, done = lookup_events(aws, start, end, resources, timeout_s)
        return Collected(found, "lookup_events", sampling=describe_lookups(done, t0 or end))
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
    data = {"changes": changes, "path": found.path, "sampling": found.sampling}
    text = render(changes, window) + "".join(f"\n- read: {line}" for line in found.sampling)
    return ToolResult(ChangesTool.name, text, data, list(found.notes))
