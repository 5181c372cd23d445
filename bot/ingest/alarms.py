"""CloudWatch alarm payloads in: one alarm state change, as an `AlarmNotice`.

Every payload is outside input. It is parsed through pydantic models of the shapes AWS
sends (`bot.ingest.envelopes` for what carries the alarm, `bot.ingest.cloudwatch` for
the alarm itself), and anything else is rejected with an `AlarmPayloadError` that says
what was wrong. Each parsed alarm carries an idempotency key (the SNS `MessageId`, the
EventBridge event `id`, a digest of the alarm's state change otherwise) so that a
payload delivered twice makes one incident. (The inverse, rendering an `Alarm` as AWS
would deliver it, is the simulator's: `bot.sim.payloads`.)
"""

from __future__ import annotations

from typing import Any

from bot.ingest.cloudwatch import STAT_FROM_SNS, STAT_NAMES
from bot.ingest.envelopes import (
    STATE_CHANGE,
    AlarmNotice,
    AlarmPayloadError,
    Delivery,
    Reading,
    read_body,
    read_document,
)
from bot.ingest.regions import REGION_NAMES

EVENTBRIDGE_DETAIL_TYPE = STATE_CHANGE

__all__ = [
    "EVENTBRIDGE_DETAIL_TYPE",
    "REGION_NAMES",
    "STAT_FROM_SNS",
    "STAT_NAMES",
    "AlarmNotice",
    "AlarmPayloadError",
    "Delivery",
    "Reading",
    "parse_alarm_payload",
    "read_body",
    "read_document",
]


def parse_alarm_payload(
    payload: str | bytes | dict[str, Any], carrier: Delivery | None = None
) -> AlarmNotice:
    """One alarm state change from an SNS notification, an EventBridge alarm event, an
    alarm action event or a bare CloudWatch alarm message; anything else (another
    event, a configuration change, a Lambda batch) raises AlarmPayloadError."""
    reading = read_body(payload, carrier or "bare-message") if carrier else None
    if reading is None:
        readings = read_document(payload)
        if len(readings) != 1:
            raise AlarmPayloadError(f"payload holds {len(readings)} records, not one alarm")
        reading = readings[0]
    if reading.problem:
        raise AlarmPayloadError(reading.problem)
    if reading.not_alarm or reading.notice is None:
        raise AlarmPayloadError(f"not an alarm state change: {reading.not_alarm}")
    return reading.notice
