"""What carries an alarm to the bot, opened down to the alarm.

One alarm reaches the bot in one of these deliveries (the names `check-alarm` prints):

- `sns-http`: an SNS `Notification` posted to `/aws/sns` (its `Message` is the alarm);
- `lambda-sns`: a Lambda subscribed to the topic, `Records[].Sns` (several per event);
- `sqs`: an SQS message (a Lambda SQS batch's `Records[].body`, or a polled message)
  whose body is any of the other shapes;
- `eventbridge`: an EventBridge `CloudWatch Alarm ...` event (its `detail`, or, in some
  real events, `alarmData`), sent to a Lambda or a queue by a rule;
- `lambda-alarm-action`: the event an alarm's Lambda action sends (`alarmData`);
- `bare-message`: CloudWatch's alarm message itself (raw message delivery).

Each delivered item becomes a `Reading`: the alarm and the key that makes its delivery
idempotent, or why the item is not an alarm state change (a configuration change, a
contributor's state, another service's event), or why it cannot be read at all.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import BadInputError
from bot.ingest.cloudwatch import AlarmData, AlarmMessage, from_alarm_data, from_message
from bot.ingest.regions import account_id, arn_account, arn_region, clean_arn
from bot.models import Alarm

Delivery = Literal[
    "sns-http", "lambda-sns", "sqs", "eventbridge", "lambda-alarm-action", "bare-message"
]
STATE_CHANGE = "CloudWatch Alarm State Change"


class AlarmPayloadError(BadInputError):
    """A payload that is not a CloudWatch alarm notification we can use."""


class AlarmNotice(BaseModel):
    """A parsed alarm, the key that makes its delivery idempotent, and who sent it."""

    alarm: Alarm
    key: str
    delivery: Delivery
    topic_arn: str = ""  # the SNS topic it came through, if any: what the allow-list trusts
    sender: str = ""  # the account that sent it: the topic's, the event's or the alarm's

    @property
    def kind(self) -> str:
        """The old name of `delivery`'s family: sns, eventbridge or cloudwatch."""
        if self.key.startswith("sns:"):
            return "sns"
        return "eventbridge" if self.key.startswith("eventbridge:") else "cloudwatch"


class Reading(BaseModel):
    """One delivered item: its alarm, or why it has none."""

    item: str  # what names it in logs and batch responses (SQS messageId, MessageId, id)
    delivery: Delivery
    notice: AlarmNotice | None = None
    not_alarm: str = ""  # a well-formed item that is not an alarm's state change: why
    problem: str = ""  # an item that cannot be read: why


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _SnsEnvelope(_Loose):
    Type: str
    MessageId: str = Field(min_length=1)
    TopicArn: str = ""
    Message: str


class _Event(_Loose):
    id: str = Field(min_length=1)
    account: str = ""
    region: str = ""
    resources: list[str] = Field(default_factory=list)


class _AlarmAction(_Loose):
    source: str
    alarmArn: str = ""
    accountId: str = ""
    region: str = ""
    alarmData: AlarmData


def problem_of(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    return f"{where}: {first['msg']}"


def _digest(*parts: str) -> str:
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _json(payload: str | bytes | dict[str, Any], what: str) -> dict[str, Any]:
    data: Any = payload
    if isinstance(payload, str | bytes):
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise AlarmPayloadError(f"{what} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise AlarmPayloadError(f"{what} is not a JSON object")
    return data


def _sns(data: dict[str, Any], delivery: Delivery) -> Reading:
    envelope = _SnsEnvelope.model_validate(data)
    topic = clean_arn(envelope.TopicArn)
    if envelope.Type != "Notification":
        return Reading(
            item=envelope.MessageId, delivery=delivery, not_alarm=f"SNS {envelope.Type[:40]}"
        )
    try:
        inner = json.loads(envelope.Message)
    except ValueError:
        raise AlarmPayloadError("SNS Message is not a CloudWatch alarm (not JSON)") from None
    if not isinstance(inner, dict) or "AlarmName" not in inner:
        raise AlarmPayloadError("SNS Message is not a CloudWatch alarm notification")
    alarm = from_message(AlarmMessage.model_validate(inner), arn_region(topic))
    notice = AlarmNotice(
        alarm=alarm,
        key=f"sns:{envelope.MessageId}",
        delivery=delivery,
        topic_arn=topic,
        sender=arn_account(topic),
    )
    return Reading(item=envelope.MessageId, delivery=delivery, notice=notice)


def _eventbridge(data: dict[str, Any], delivery: Delivery) -> Reading:
    detail_type, source = str(data.get("detail-type")), str(data.get("source"))
    if source != "aws.cloudwatch" or not detail_type.startswith("CloudWatch Alarm"):
        return Reading(
            item=str(data.get("id") or "?")[:100],
            delivery=delivery,
            not_alarm=f"EventBridge event of type {detail_type[:80]!r} is not a {STATE_CHANGE!r}",
        )
    event = _Event.model_validate(data)
    body = data.get("detail") if isinstance(data.get("detail"), dict) else data.get("alarmData")
    if not isinstance(body, dict):
        raise AlarmPayloadError(f"{detail_type} event has no detail")
    alarm_data = AlarmData.model_validate(body)
    arn = next((r for r in event.resources if ":alarm:" in r), "") or (
        f"arn:aws:cloudwatch:{event.region}:{event.account}:alarm:{alarm_data.alarmName}"
    )
    alarm = from_alarm_data(alarm_data, region=event.region, account=event.account, arn=arn)
    notice = AlarmNotice(
        alarm=alarm,
        key=f"eventbridge:{event.id}",
        delivery=delivery,
        sender=account_id(event.account) or alarm.account,
    )
    not_alarm = "" if detail_type == STATE_CHANGE else detail_type
    return Reading(item=event.id, delivery=delivery, notice=notice, not_alarm=not_alarm)


def _alarm_action(data: dict[str, Any], delivery: Delivery) -> Reading:
    action = _AlarmAction.model_validate(data)
    alarm = from_alarm_data(
        action.alarmData, region=action.region, account=action.accountId, arn=action.alarmArn
    )
    key = _digest(alarm.arn or alarm.name, alarm.changed_at.isoformat(), alarm.state.value)
    notice = AlarmNotice(
        alarm=alarm, key=f"cloudwatch:{key}", delivery=delivery, sender=alarm.account
    )
    return Reading(item=f"action:{key[:12]}", delivery=delivery, notice=notice)


def _bare(data: dict[str, Any], delivery: Delivery) -> Reading:
    alarm = from_message(AlarmMessage.model_validate(data))
    key = _digest(alarm.arn or alarm.name, alarm.changed_at.isoformat(), alarm.state.value)
    notice = AlarmNotice(
        alarm=alarm, key=f"cloudwatch:{key}", delivery=delivery, sender=alarm.account
    )
    return Reading(item=f"message:{key[:12]}", delivery=delivery, notice=notice)


def read_one(data: dict[str, Any], carrier: Delivery | None = None) -> Reading:
    """One alarm document of any shape but a Lambda batch; `carrier` names what brought
    it when that is not the document itself (an SQS message, a Lambda's SNS record).
    Raises AlarmPayloadError when it cannot be read."""
    try:
        if "Type" in data and "Message" in data:
            return _sns(data, carrier or "sns-http")
        if "detail-type" in data:
            return _eventbridge(data, carrier or "eventbridge")
        if "alarmData" in data:
            return _alarm_action(data, carrier or "lambda-alarm-action")
        if "AlarmName" in data:
            return _bare(data, carrier or "bare-message")
    except ValidationError as exc:
        raise AlarmPayloadError(f"not a valid alarm payload: {problem_of(exc)}") from None
    raise AlarmPayloadError(
        "payload is neither an SNS notification, an EventBridge alarm event, an alarm "
        "action event nor a CloudWatch alarm message"
    )


def read_body(body: str | bytes | dict[str, Any], carrier: Delivery, item: str = "") -> Reading:
    """One delivered body (an SQS message, a request), never raising: what it cannot
    read is the reading's `problem`."""
    try:
        data = _json(body, "payload")
    except AlarmPayloadError as exc:
        return Reading(item=item or "?", delivery=carrier, problem=str(exc))
    try:
        reading = read_one(data, carrier)
    except AlarmPayloadError as exc:
        named = item or str(data.get("MessageId") or data.get("id") or "?")[:100]
        return Reading(item=named, delivery=carrier, problem=str(exc))
    return reading.model_copy(update={"item": item}) if item else reading


def is_lambda_batch(data: dict[str, Any]) -> bool:
    records = data.get("Records")
    return isinstance(records, list) and bool(records)


def read_document(data: str | bytes | dict[str, Any]) -> list[Reading]:
    """Every reading in a document as AWS delivers it: a Lambda SQS or SNS batch (a
    reading per record), or one of the single shapes. Raises AlarmPayloadError only
    when the document as a whole is unusable; a bad record is its reading's problem."""
    document = _json(data, "payload")
    if not is_lambda_batch(document):
        return [read_one(document)]
    readings = []
    for index, record in enumerate(document["Records"]):
        if not isinstance(record, dict):
            readings.append(
                Reading(item=str(index), delivery="sqs", problem="record is not an object")
            )
        elif record.get("eventSource") == "aws:sqs":
            item = str(record.get("messageId") or index)
            readings.append(read_body(record.get("body", ""), "sqs", item))
        elif record.get("EventSource") == "aws:sns" and isinstance(record.get("Sns"), dict):
            readings.append(read_body(record["Sns"], "lambda-sns"))
        else:
            source = str(record.get("eventSource") or record.get("EventSource") or "none")
            readings.append(
                Reading(
                    item=str(index),
                    delivery="sqs",
                    problem=f"record from {source[:40]!r} is neither SQS nor SNS",
                )
            )
    return readings
