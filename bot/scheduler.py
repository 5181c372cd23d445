"""Background jobs (APScheduler): polling the alarm queue, resuming stale analyses.

A message is deleted only after its alarm is stored, so a crash between receive
and store means SQS redelivers it, and the stored delivery key makes the
redelivery a no-op. A message that is not an alarm is left for the queue's
redrive policy (dead-letter queue), never silently dropped.

Every replica runs the scheduler; a job that must run in one process at a time
takes a lease in the database first (`leased`). Polling needs none: SQS hands
each message to one receiver.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
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


def leased(incidents: Incidents, name: str, ttl: timedelta, work: Callable[[], Any]) -> bool:
    """Run `work` only in the process holding the lease `name`; True if it ran."""
    rt = incidents.rt
    if not rt.store.acquire_lease(name, rt.owner, ttl):
        return False
    work()
    return True


def start_jobs(
    incidents: Incidents, sqs: Any = None, queue_url: str | None = None
) -> BackgroundScheduler:
    """Start the background jobs; stale analyses are resumed at once, then every half lease."""
    scheduler = BackgroundScheduler(timezone="UTC")
    lease = incidents.rt.job_lease

    def guarded(name: str, fn: Callable[[], Any]) -> Callable[[], None]:
        def job() -> None:
            try:
                fn()
            except Exception:
                log.exception("scheduled job %s failed", name)

        return job

    if sqs is not None and queue_url:
        poll = guarded("sqs-poller", lambda: poll_once(sqs, queue_url, incidents))
        scheduler.add_job(poll, "interval", seconds=1, max_instances=1, coalesce=True)
    sweep = guarded(
        "recover-jobs", lambda: leased(incidents, "recover-jobs", lease / 2, incidents.recover)
    )
    scheduler.add_job(
        sweep,
        "interval",
        seconds=max(lease.total_seconds() / 2, 1.0),
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),
    )
    scheduler.start()
    return scheduler
