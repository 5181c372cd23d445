"""AWS Lambda entry point: Slack requests through Bolt's Lambda adapter (lazy listeners
re-invoke this function), and SQS batches of alarm notifications.

Handler: `bot.server.lambda_handler.handler`. Settings come from the function's environment.
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
from bot.ingest.alarms import AlarmPayloadError, parse_alarm_payload
from bot.observe.telemetry import build_telemetry
from bot.server.runtime import build
from bot.server.scheduler import DIGEST_LEASE, leased, post_digest
from bot.slack.context import BotContext
from bot.slack.payloads import malformed

log = logging.getLogger(__name__)


@cache
def _bot() -> tuple[BotContext, SlackRequestHandler]:
    """Built once per container: Lambda reuses it across invocations."""
    settings = load_settings()
    telemetry = build_telemetry(settings, emf=sys.stdout)
    ctx, app = build(settings, process_before_response=True, inline=True, telemetry=telemetry)
    return ctx, SlackRequestHandler(app)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx, slack = _bot()
    try:
        records = event.get("Records") or []
        if records and records[0].get("eventSource") == "aws:sqs":
            return _sqs_batch(ctx, records)
        if "llm_incident" in event:  # an EventBridge schedule (deploy/template.yaml)
            return _scheduled(ctx, str(event["llm_incident"]))
        if (problem := _malformed(event)) is not None:
            log.warning("rejected Slack request: %s", problem)
            return {"statusCode": 400, "body": f"rejected: {problem}"}
        return slack.handle(event, context)
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


def _sqs_batch(ctx: BotContext, records: list[dict[str, Any]]) -> dict[str, Any]:
    """Report failed items so that only they are retried (partial batch response)."""
    failures = []
    for record in records:
        try:
            ctx.incidents.receive(parse_alarm_payload(record.get("body", "")))
        except AlarmPayloadError as exc:
            log.warning("SQS record %s is not an alarm: %s", record.get("messageId"), exc)
            failures.append({"itemIdentifier": record.get("messageId")})
        except Exception:
            log.exception("SQS record %s failed", record.get("messageId"))
            failures.append({"itemIdentifier": record.get("messageId")})
    return {"batchItemFailures": failures}
