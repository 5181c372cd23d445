"""Background jobs (APScheduler): polling the alarm queue.

A message is deleted only after its alarm is stored, so a crash between receive
and store means SQS redelivers it, and the stored delivery key makes the
redelivery a no-op. A message that is not an alarm is left for the queue's
redrive policy (dead-letter queue), never silently dropped.
"""

from __future__ import annotations

import logging
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from bot.alarms import AlarmPayloadError, parse_alarm_payload
from bot.incidents import Incidents

log = logging.getLogger(__name__)


def poll_once(
    sqs: Any, queue_url: str, incidents: Incidents, wait_seconds: int = 20
) -> dict[str, int]:
    """Receive up to ten messages, handle each, delete the handled ones."""
    page = sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds
    )
    counts = {"received": 0, "handled": 0, "rejected": 0}
    for message in page.get("Messages", []):
        counts["received"] += 1
        try:
            notice = parse_alarm_payload(message.get("Body", ""))
        except AlarmPayloadError as exc:
            counts["rejected"] += 1
            log.warning(
                "queue message %s is not an alarm (%s); left for the DLQ",
                message.get("MessageId"),
                exc,
            )
            continue
        outcome = incidents.receive(notice)
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        counts["handled"] += 1
        log.info("alarm %s: %s", notice.alarm.name, outcome)
    return counts


def start_polling(sqs: Any, queue_url: str, incidents: Incidents) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC")

    def job() -> None:
        try:
            poll_once(sqs, queue_url, incidents)
        except Exception:
            log.exception("polling %s failed", queue_url)

    scheduler.add_job(job, "interval", seconds=1, max_instances=1, coalesce=True, id="sqs-poller")
    scheduler.start()
    return scheduler
