"""AWS Lambda entry point: Slack requests through Bolt's Lambda adapter (lazy listeners
re-invoke this function), alarms in every shape AWS invokes a function with, and the
EventBridge schedules.

Handler: `bot.server.lambda_handler.handler`. Settings come from the function's environment.
An event is routed by its shape, alarms first: an SQS batch (`Records[].eventSource`
`aws:sqs`), an SNS subscription (`Records[].EventSource` `aws:sns`, several records per
event), an EventBridge rule's target (`detail-type`) or an alarm's Lambda action
(`alarmData`) are alarms; `llm_incident` is a schedule; a request with a body or
headers is Slack's. Anything else fails the invocation rather than being answered 404.

An alarm that could not be read or stored is never a successful invocation: in an SQS
batch it is a batch item failure (retried, then the dead-letter queue), otherwise the
invocation raises, so Lambda retries the asynchronous invocation and then sends it to
the function's on-failure destination. Refusals and skips (not allowed, muted, not an
alarm event) are logged and counted, and succeed: retrying them would change nothing.
The bot's metrics leave as CloudWatch Embedded Metric Format lines on stdout, flushed
(with any OTLP spans) before each invocation returns: the sandbox freezes right after.
"""

from __future__ import annotations

import logging
import sys
from functools import cache
from typing import Any

from slack_bolt.adapter.aws_lambda import SlackRequestHandler

from bot.config import load_settings
from bot.errors import LlmIncidentError
from bot.ingest.alarms import AlarmPayloadError, read_document
from bot.observe.telemetry import build_telemetry
from bot.server.intake import Intake
from bot.server.runtime import build
from bot.server.scheduler import DIGEST_LEASE, leased, post_digest
from bot.slack.context import BotContext
from bot.slack.payloads import malformed

log = logging.getLogger(__name__)
ALARM_KEYS = ("detail-type", "alarmData", "AlarmName")


class DeliveryError(LlmIncidentError):
    """An invocation whose alarms were not all stored: it must fail, to be retried."""


@cache
def _bot() -> tuple[BotContext, SlackRequestHandler, Intake]:
    """Built once per container: Lambda reuses it across invocations."""
    settings = load_settings()
    telemetry = build_telemetry(settings, emf=sys.stdout)
    ctx, app = build(settings, process_before_response=True, inline=True, telemetry=telemetry)
    return ctx, SlackRequestHandler(app), Intake(ctx.incidents)


def is_alarm_event(event: dict[str, Any]) -> bool:
    records = event.get("Records")
    if isinstance(records, list) and records:
        return True
    if event.get("Type") == "Notification":
        return True
    return any(key in event for key in ALARM_KEYS)


def is_http_request(event: dict[str, Any]) -> bool:
    return any(key in event for key in ("body", "headers", "requestContext", "httpMethod"))


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx, slack, intake = _bot()
    try:
        if not isinstance(event, dict):
            raise DeliveryError(f"event is a {type(event).__name__}, not an object")
        if "llm_incident" in event:  # an EventBridge schedule (deploy/template.yaml)
            return _scheduled(ctx, str(event["llm_incident"]))
        if is_alarm_event(event):
            return _alarms(intake, event)
        if is_http_request(event):
            if (problem := _malformed(event)) is not None:
                log.warning("rejected Slack request: %s", problem)
                return {"statusCode": 400, "body": f"rejected: {problem}"}
            return slack.handle(event, context)
        keys = ", ".join(sorted(str(k) for k in event)[:8])
        raise DeliveryError(f"not an alarm, a Slack request or a schedule (keys: {keys})")
    finally:
        ctx.runtime.telemetry.flush()


def _scheduled(ctx: BotContext, task: str) -> dict[str, Any]:
    """What the server's background scheduler does, run by EventBridge schedules: no
    thread outlives an invocation. `recover` resumes analyses whose invocation died
    (timeout, crash) once their lease ran out; `digest` posts the weekly digest."""
    incidents = ctx.incidents
    if task == "recover":
        ran = leased(
            incidents, "recover-jobs", incidents.rt.job_lease / 2, lambda: incidents.recover()
        )
        return {"task": task, "ran": ran}
    if task == "digest":
        ran = leased(
            incidents, "weekly-digest", DIGEST_LEASE, lambda: post_digest(incidents, ctx.poster)
        )
        return {"task": task, "ran": ran}
    log.warning("unknown scheduled task %r", task[:40])
    return {"task": task[:40], "error": "unknown task"}


def _malformed(event: dict[str, Any]) -> str | None:
    body = event.get("body")
    if not isinstance(body, str) or event.get("isBase64Encoded"):
        return None  # Bolt's adapter decodes these itself
    headers = {str(k).lower(): v for k, v in (event.get("headers") or {}).items()}
    return malformed(body, headers.get("content-type"))


def _alarms(intake: Intake, event: dict[str, Any]) -> dict[str, Any]:
    """Every alarm of the event taken; an SQS batch reports the items that failed
    (partial batch response), any other event fails as a whole if one did."""
    try:
        readings = read_document(event)
    except AlarmPayloadError as exc:
        raise DeliveryError(f"alarm event unreadable: {exc}") from exc
    records = event.get("Records") or [{}]
    sqs = isinstance(records[0], dict) and records[0].get("eventSource") == "aws:sqs"
    failures: list[dict[str, str]] = []
    outcomes: list[dict[str, str]] = []
    for reading in readings:
        try:
            outcome = intake.take(reading)
        except Exception:
            log.exception("%s item %s failed", reading.delivery, reading.item)
            failures.append({"itemIdentifier": reading.item})
            continue
        if not outcome.acknowledged:
            failures.append({"itemIdentifier": reading.item})
        outcomes.append({"item": reading.item, "status": outcome.status, "detail": outcome.detail})
    if sqs:
        return {"batchItemFailures": failures}
    if failures:
        items = ", ".join(f["itemIdentifier"] for f in failures)
        raise DeliveryError(f"{len(failures)} of {len(readings)} alarms not stored: {items}")
    return {"alarms": outcomes}
