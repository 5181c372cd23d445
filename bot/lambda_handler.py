"""AWS Lambda entry point: Slack requests through Bolt's Lambda adapter (lazy listeners
re-invoke this function), and SQS batches of alarm notifications.

Handler: `bot.lambda_handler.handler`. Settings come from the function's environment.
"""

from __future__ import annotations

import logging
from functools import cache
from typing import Any

from slack_bolt.adapter.aws_lambda import SlackRequestHandler

from bot.alarms import AlarmPayloadError, parse_alarm_payload
from bot.config import load_settings
from bot.runtime import build
from bot.slack.context import BotContext

log = logging.getLogger(__name__)


@cache
def _bot() -> tuple[BotContext, SlackRequestHandler]:
    """Built once per container: Lambda reuses it across invocations."""
    ctx, app = build(load_settings(), process_before_response=True, inline=True)
    return ctx, SlackRequestHandler(app)


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    ctx, slack = _bot()
    records = event.get("Records") or []
    if records and records[0].get("eventSource") == "aws:sqs":
        return _sqs_batch(ctx, records)
    return slack.handle(event, context)


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
