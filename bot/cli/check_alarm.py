"""`llm-incident check-alarm FILE [--json]`: how the bot reads one payload, posting nothing.

Operators debug their wiring with it (why did this alarm not open an incident?), and the
tests and benches read payloads through it. For each alarm the payload carries (a Lambda
batch carries several) it says:

- `delivery`: sns-http, lambda-sns, sqs, eventbridge, lambda-alarm-action or bare-message;
- `alarm`: name, state, previous_state, region, account, kind (metric, math, anomaly,
  insights, composite), namespace, metric, dimensions, and where present the
  expression and the metrics it reads, the composite's rule and triggering children,
  and why it is muted;
- `service`: the catalog entry it resolves to (null: none);
- `decision`: `investigate`, or `skip` with its `reason` (not allowed, muted, not ALARM,
  not an alarm event), or `reject` (a record that cannot be read, retried by AWS).

The SNS signature is not checked here (that needs SNS's certificate): the allow-list,
the catalog and the decision are the bot's own, from the same settings.
"""

from __future__ import annotations

import json
from typing import Any

from bot.config import Settings
from bot.engine.catalog import Catalog, load_catalog
from bot.ingest.alarms import Reading, read_document
from bot.ingest.sources import AllowList, decide
from bot.models import Alarm, AlarmKind


def alarm_fields(alarm: Alarm) -> dict[str, Any]:
    """The alarm as `check-alarm --json` prints it (unknown values are null)."""
    single = alarm.kind is AlarmKind.METRIC
    fields: dict[str, Any] = {
        "name": alarm.name,
        "state": alarm.state.value,
        "previous_state": alarm.previous_state.value if alarm.previous_state else None,
        "region": alarm.region or None,
        "account": alarm.account or None,
        "kind": alarm.kind.value,
        "namespace": (alarm.namespace or None) if single else None,
        "metric": (alarm.metric or None) if single else None,
        "dimensions": dict(alarm.dimensions) if single and alarm.namespace else None,
    }
    if alarm.expression:
        fields["expression"] = alarm.expression
    if alarm.metrics:
        fields["metrics"] = [
            {
                "id": m.id,
                "namespace": m.namespace,
                "metric": m.metric,
                "dimensions": dict(m.dimensions),
            }
            for m in alarm.metrics
        ]
    if alarm.kind is AlarmKind.COMPOSITE:
        fields["rule"] = alarm.rule
        fields["children"] = list(alarm.children)
    if alarm.muted_by:
        fields["muted"] = alarm.muted_by
    return fields


def describe(reading: Reading, allow: AllowList, catalog: Catalog) -> dict[str, Any]:
    """One reading as `check-alarm` prints it."""
    found: dict[str, Any] = {"delivery": reading.delivery, "item": reading.item}
    if reading.problem:
        return found | {
            "alarm": None,
            "service": None,
            "decision": "reject",
            "reason": f"unreadable: {reading.problem}",
        }
    alarm = reading.notice.alarm if reading.notice else None
    service = catalog.resolve(alarm) if alarm else None
    verdict = decide(reading, allow)
    found |= {
        "alarm": alarm_fields(alarm) if alarm else None,
        "service": service.name if service else None,
        "decision": verdict.decision,
    }
    if verdict.reason:
        found["reason"] = verdict.reason
    return found


def check_payload(text: str | bytes, settings: Settings) -> list[dict[str, Any]]:
    """Every alarm of a payload, read as the bot reads it; raises AlarmPayloadError
    (bad input) when the payload as a whole cannot be read."""
    allow = AllowList(
        accounts=frozenset(settings.allowed_accounts), topics=frozenset(settings.allowed_topics)
    )
    catalog = load_catalog(settings.catalog)
    return [describe(reading, allow, catalog) for reading in read_document(text)]


def render(found: dict[str, Any]) -> str:
    """One reading as lines for a terminal."""
    lines = [f"delivery: {found['delivery']} (item {found['item']})"]
    alarm = found.get("alarm")
    if alarm:
        was = f" (was {alarm['previous_state']})" if alarm["previous_state"] else ""
        lines.append(
            f"alarm:    {alarm['name']}  {alarm['state']}{was}  region {alarm['region'] or '?'}"
            f"  account {alarm['account'] or '?'}"
        )
        watched = alarm.get("expression") or alarm.get("rule") or ""
        if alarm["namespace"]:
            dims = ", ".join(f"{k}={v}" for k, v in (alarm["dimensions"] or {}).items())
            watched = f"{alarm['namespace']} {alarm['metric']} [{dims}]"
        lines.append(f"kind:     {alarm['kind']}  {watched}".rstrip())
        for metric in alarm.get("metrics", []):
            dims = ", ".join(f"{k}={v}" for k, v in metric["dimensions"].items())
            lines.append(
                f"  reads   {metric['id']}: {metric['namespace']} {metric['metric']} [{dims}]"
            )
        for child in alarm.get("children", []):
            lines.append(f"  child   {child}")
        lines.append(f"service:  {found['service'] or '(none in the catalog)'}")
    reason = f" ({found['reason']})" if found.get("reason") else ""
    lines.append(f"decision: {found['decision']}{reason}")
    return "\n".join(lines)


def as_json(found: list[dict[str, Any]]) -> str:
    """One object for a payload with one alarm; a list for a batch of several."""
    return json.dumps(found[0] if len(found) == 1 else found, indent=2)
