"""Background jobs (APScheduler): polling the alarm queue, resuming stale analyses.

A message is deleted only after its alarm is stored, so a crash between receive
and store means SQS redelivers it, and the stored delivery key makes the
redelivery a no-op. A message that is not an alarm is left for the queue's
redrive policy (dead-letter queue), never silently dropped; one the intake skips (not
allowed, muted, not an alarm event) is logged, counted and deleted. The long poll waits
less than the SQS client's read timeout, so an idle poll ends as an empty answer, not a
`ReadTimeout`.

Every replica runs the scheduler; a job that must run in one process at a time
takes a lease in the database first (`leased`). Polling needs none: SQS hands
each message to one receiver. The weekly digest (`stats` for the last seven days, in
the default channel) is leased for an hour, so of the replicas that fire together
exactly one posts it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger

from bot.incidents.flow import Incidents
from bot.ingest.alarms import read_body
from bot.observe.stats import compute_stats, render
from bot.server.intake import Intake
from bot.slack.threads import Poster

DIGEST_LEASE = timedelta(hours=1)
LONG_POLL_SECONDS = 20  # SQS's longest wait
READ_TIMEOUT_MARGIN = 5  # seconds the answer of a full-length long poll may take to arrive

log = logging.getLogger(__name__)


def long_poll_seconds(sqs: Any, wanted: int = LONG_POLL_SECONDS) -> int:
    """The wait SQS may take to answer, kept under the client's read timeout."""
    read_timeout = getattr(getattr(sqs, "meta", None), "config", None)
    limit = getattr(read_timeout, "read_timeout", None)
    if not isinstance(limit, int | float):
        return wanted
    return max(0, min(wanted, int(limit) - READ_TIMEOUT_MARGIN))


def poll_once(
    sqs: Any,
    queue_url: str,
    intake: Intake | Incidents,
    wait_seconds: int = LONG_POLL_SECONDS,
) -> dict[str, int]:
    """Receive up to ten messages, take each, delete the ones taken."""
    taker = intake if isinstance(intake, Intake) else Intake(intake)
    page = sqs.receive_message(
        QueueUrl=queue_url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=long_poll_seconds(sqs, wait_seconds),
    )
    counts = {"received": 0, "handled": 0, "skipped": 0, "rejected": 0}
    for message in page.get("Messages", []):
        counts["received"] += 1
        reading = read_body(message.get("Body", ""), "sqs", str(message.get("MessageId", "")))
        try:
            outcome = taker.take(reading)
        except Exception:
            log.exception("queue message %s could not be stored; it comes again", reading.item)
            continue
        if not outcome.acknowledged:
            counts["rejected"] += 1
            log.warning("queue message %s left for the DLQ", reading.item)
            continue
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        counts["handled" if outcome.status == "stored" else "skipped"] += 1
    return counts


def leased(incidents: Incidents, name: str, ttl: timedelta, work: Callable[[], Any]) -> bool:
    """Run `work` only in the process holding the lease `name`; True if it ran."""
    rt = incidents.rt
    if not rt.store.leases.acquire(name, rt.owner, ttl):
        return False
    work()
    return True


def digest_trigger(cron: str) -> CronTrigger | None:
    """The digest's schedule from a crontab line (UTC); `off` or empty turns it off."""
    if cron.strip().lower() in ("", "off", "none"):
        return None
    return CronTrigger.from_crontab(cron, timezone=UTC)


def post_digest(incidents: Incidents, poster: Poster, now: datetime | None = None) -> bool:
    """The last seven days' stats in the default channel; False when there is none."""
    rt = incidents.rt
    channel = rt.settings.default_channel
    if not channel:
        log.warning("no LLM_INCIDENT_DEFAULT_CHANNEL: the weekly digest is not posted")
        return False
    now = now or datetime.now(UTC)
    found = compute_stats(rt.store, now - timedelta(days=7), now)
    text = render(found, title="Weekly digest, last 7 days")
    key = f"digest:{channel}:{now:%Y-%m-%d}"  # replicas and retries of one day post it once
    poster.post(channel, text.split("\n", 1)[0], [_section(text)], key=key)
    return True


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}


def start_jobs(
    incidents: Incidents, poster: Poster, sqs: Any = None, queue_url: str | None = None
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
        intake = Intake(incidents)
        poll = guarded("sqs-poller", lambda: poll_once(sqs, queue_url, intake))
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
    trigger = digest_trigger(incidents.rt.settings.digest_cron)
    if trigger is not None:
        digest = guarded(
            "weekly-digest",
            lambda: leased(
                incidents, "weekly-digest", DIGEST_LEASE, lambda: post_digest(incidents, poster)
            ),
        )
        scheduler.add_job(digest, trigger, max_instances=1, coalesce=True, misfire_grace_time=600)
    scheduler.start()
    return scheduler
