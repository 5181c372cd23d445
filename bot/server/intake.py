"""One gate for every alarm delivery, whichever door it came in by.

`/aws/sns`, the Lambda handler and the SQS poller each read their deliveries into
`Reading`s (`bot.ingest`) and hand each to `Intake.take`, which decides (`decide`: the
allow-list, not an alarm event, muted) and stores what is to be stored. What it did is
an `Outcome` the door turns into its own answer: a status code, a batch item failure, a
message left on the queue. Every refusal and skip is logged with its reason and counted
(`llm_incident.alarms.skipped`, `llm_incident.alarms.unreadable`), so an alarm that does
not become an incident always leaves a trace.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Literal

from bot.incidents.flow import Incidents
from bot.ingest.alarms import Reading
from bot.ingest.sources import AllowList, decide
from bot.observe.telemetry import SCOPE

log = logging.getLogger(__name__)
Status = Literal["stored", "skipped", "refused", "unreadable"]


@dataclass(frozen=True)
class Outcome:
    """What became of one reading: stored (with the incident flow's outcome, such as
    `opened` or `duplicate`), skipped or refused (with the reason), or unreadable."""

    status: Status
    detail: str

    @property
    def acknowledged(self) -> bool:
        """Whether the delivery is done with (deleted from the queue, not retried)."""
        return self.status != "unreadable"


def allow_list(incidents: Incidents) -> AllowList:
    settings = incidents.rt.settings
    return AllowList(
        accounts=frozenset(settings.allowed_accounts), topics=frozenset(settings.allowed_topics)
    )


class Intake:
    """Decide and store readings for one running bot (built once per process)."""

    def __init__(self, incidents: Incidents) -> None:
        self.incidents = incidents
        self.allow = allow_list(incidents)
        meter = incidents.rt.telemetry.meter_provider.get_meter(SCOPE)
        self._skipped = meter.create_counter(
            "llm_incident.alarms.skipped",
            unit="{delivery}",
            description="Alarm deliveries not stored: not allowed, muted, not an alarm event.",
        )
        self._unreadable = meter.create_counter(
            "llm_incident.alarms.unreadable",
            unit="{delivery}",
            description="Deliveries that are not a readable alarm (left for a retry or the DLQ).",
        )

    def take(self, reading: Reading) -> Outcome:
        """Store the reading's alarm if it is to be stored; raises only when storing
        fails (the delivery is then not acknowledged, and comes again)."""
        labels = {"delivery": reading.delivery}
        if reading.problem:
            self._unreadable.add(1, labels)
            log.warning(
                "%s item %s is not an alarm: %s", reading.delivery, reading.item, reading.problem
            )
            return Outcome("unreadable", reading.problem)
        verdict = decide(reading, self.allow)
        kind = verdict.reason.split(":", 1)[0]
        if reading.notice is not None:
            notice = reading.notice
            self.incidents.rt.store.sources.count(
                reading.delivery,
                notice.sender,
                notice.topic_arn,
                notice.alarm.name,
                verdict.reason if kind == "not allowed" else None,
            )
        if not verdict.store:
            self._skipped.add(1, {**labels, "reason": kind})
            name = reading.notice.alarm.name if reading.notice else "-"
            log.warning(
                "%s item %s (%s) skipped: %s", reading.delivery, reading.item, name, verdict.reason
            )
            return Outcome("refused" if kind == "not allowed" else "skipped", verdict.reason)
        assert reading.notice is not None  # noqa: S101 - decide stores only notices
        notice = reading.notice
        if not notice.alarm.region:  # the payload did not say: the bot's own region
            alarm = notice.alarm.model_copy(
                update={"region": self.incidents.rt.settings.aws_region}
            )
            notice = notice.model_copy(update={"alarm": alarm})
        outcome = self.incidents.receive(notice)
        log.info("alarm %s via %s: %s", notice.alarm.name, reading.delivery, outcome)
        return Outcome("stored", outcome)
