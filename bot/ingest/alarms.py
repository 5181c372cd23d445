"""CloudWatch alarm payloads in and out: SNS notifications and EventBridge events.

Every payload is outside input. It is parsed through pydantic models of the
shapes AWS sends, and anything else is rejected with an `AlarmPayloadError` that
says what was wrong. Each parsed alarm carries an idempotency key (the SNS
`MessageId`, the EventBridge event `id`) so that a payload delivered twice makes
one incident. (The inverse, rendering an `Alarm` as AWS would deliver it, is the
simulator's: `bot.sim.payloads`.)
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from bot.errors import BadInputError
from bot.models import Alarm, AlarmState

STAT_NAMES = {
    "Sum": "SUM",
    "Average": "AVERAGE",
    "Maximum": "MAXIMUM",
    "Minimum": "MINIMUM",
    "SampleCount": "SAMPLE_COUNT",
}
STAT_FROM_SNS = {v: k for k, v in STAT_NAMES.items()}
REGION_NAMES = {
    "us-east-1": "US East (N. Virginia)",
    "us-east-2": "US East (Ohio)",
    "us-west-1": "US West (N. California)",
    "us-west-2": "US West (Oregon)",
    "eu-west-1": "EU (Ireland)",
    "eu-west-2": "EU (London)",
    "eu-west-3": "EU (Paris)",
    "eu-central-1": "EU (Frankfurt)",
    "eu-north-1": "EU (Stockholm)",
    "ap-northeast-1": "Asia Pacific (Tokyo)",
    "ap-southeast-1": "Asia Pacific (Singapore)",
    "ap-southeast-2": "Asia Pacific (Sydney)",
    "ap-south-1": "Asia Pacific (Mumbai)",
    "ca-central-1": "Canada (Central)",
    "sa-east-1": "South America (Sao Paulo)",
}
EVENTBRIDGE_DETAIL_TYPE = "CloudWatch Alarm State Change"


class AlarmPayloadError(BadInputError):
    """A payload that is not a CloudWatch alarm notification we can use."""


class AlarmNotice(BaseModel):
    """A parsed alarm and the key that makes its delivery idempotent."""

    alarm: Alarm
    key: str
    kind: Literal["sns", "eventbridge", "cloudwatch"]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class _SnsDimension(_Loose):
    name: str
    value: str


class _Trigger(_Loose):
    MetricName: str = ""
    Namespace: str = ""
    Statistic: str | None = None
    ExtendedStatistic: str | None = None
    Dimensions: list[_SnsDimension] = Field(default_factory=list)
    Period: int = Field(default=60, ge=1)
    EvaluationPeriods: int = Field(default=1, ge=1)
    ComparisonOperator: str = "GreaterThanThreshold"
    Threshold: float = 0.0


class _CloudWatchMessage(_Loose):
    AlarmName: str = Field(min_length=1, max_length=255)
    AlarmDescription: str | None = None
    AWSAccountId: str = ""
    NewStateValue: AlarmState
    NewStateReason: str = ""
    StateChangeTime: datetime
    AlarmArn: str = ""
    OldStateValue: AlarmState | None = None
    Trigger: _Trigger = Field(default_factory=_Trigger)


class _SnsEnvelope(_Loose):
    Type: Literal["Notification"]
    MessageId: str = Field(min_length=1)
    TopicArn: str = ""
    Message: str


class _EbState(_Loose):
    value: AlarmState
    reason: str = ""
    timestamp: datetime


class _EbMetric(_Loose):
    namespace: str = ""
    name: str = ""
    dimensions: dict[str, str] = Field(default_factory=dict)


class _EbMetricStat(_Loose):
    metric: _EbMetric
    period: int = 60
    stat: str = "Average"


class _EbQuery(_Loose):
    id: str = ""
    metricStat: _EbMetricStat | None = None


class _EbConfiguration(_Loose):
    description: str | None = None
    metrics: list[_EbQuery] = Field(default_factory=list)


class _EbDetail(_Loose):
    alarmName: str = Field(min_length=1, max_length=255)
    state: _EbState
    previousState: _EbState | None = None
    configuration: _EbConfiguration = Field(default_factory=_EbConfiguration)


class _EbEvent(_Loose):
    id: str = Field(min_length=1)
    detail_type: Literal["CloudWatch Alarm State Change"] = Field(alias="detail-type")
    source: Literal["aws.cloudwatch"]
    account: str = ""
    region: str = ""
    time: datetime
    detail: _EbDetail


def _region_of(arn: str, fallback: str = "us-east-1") -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 4 and parts[3] else fallback


def _from_cloudwatch(message: _CloudWatchMessage) -> Alarm:
    trigger = message.Trigger
    statistic = trigger.ExtendedStatistic or STAT_FROM_SNS.get(
        (trigger.Statistic or "").upper(), trigger.Statistic or "Average"
    )
    return Alarm(
        name=message.AlarmName,
        description=message.AlarmDescription or "",
        namespace=trigger.Namespace,
        metric=trigger.MetricName,
        dimensions={d.name: d.value for d in trigger.Dimensions},
        statistic=statistic,
        period=trigger.Period,
        evaluation_periods=trigger.EvaluationPeriods,
        threshold=trigger.Threshold,
        comparison=trigger.ComparisonOperator,
        state=message.NewStateValue,
        previous_state=message.OldStateValue,
        reason=message.NewStateReason,
        changed_at=message.StateChangeTime,
        region=_region_of(message.AlarmArn),
        account=message.AWSAccountId,
        arn=message.AlarmArn,
    )


def _from_eventbridge(event: _EbEvent) -> Alarm:
    detail = event.detail
    stat = next((q.metricStat for q in detail.configuration.metrics if q.metricStat), None)
    arn = f"arn:aws:cloudwatch:{event.region}:{event.account}:alarm:{detail.alarmName}"
    return Alarm(
        name=detail.alarmName,
        description=detail.configuration.description or "",
        namespace=stat.metric.namespace if stat else "",
        metric=stat.metric.name if stat else "",
        dimensions=dict(stat.metric.dimensions) if stat else {},
        statistic=stat.stat if stat else "Average",
        period=stat.period if stat else 60,
        state=detail.state.value,
        previous_state=detail.previousState.value if detail.previousState else None,
        reason=detail.state.reason,
        changed_at=detail.state.timestamp,
        region=event.region or "us-east-1",
        account=event.account,
        arn=arn,
    )


def _problem(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "payload"
    return f"{where}: {first['msg']}"


def parse_alarm_payload(payload: str | bytes | dict[str, Any]) -> AlarmNotice:
    """An SNS notification, an EventBridge alarm event or a bare CloudWatch alarm message."""
    data: Any = payload
    if isinstance(payload, str | bytes):
        try:
            data = json.loads(payload)
        except ValueError as exc:
            raise AlarmPayloadError(f"payload is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise AlarmPayloadError("payload is not a JSON object")
    try:
        if data.get("Type") == "Notification":
            envelope = _SnsEnvelope.model_validate(data)
            try:
                inner = json.loads(envelope.Message)
            except ValueError:
                raise AlarmPayloadError(
                    "SNS Message is not a CloudWatch alarm (not JSON)"
                ) from None
            if not isinstance(inner, dict) or "AlarmName" not in inner:
                raise AlarmPayloadError("SNS Message is not a CloudWatch alarm notification")
            alarm = _from_cloudwatch(_CloudWatchMessage.model_validate(inner))
            return AlarmNotice(alarm=alarm, key=f"sns:{envelope.MessageId}", kind="sns")
        if "detail-type" in data:
            if data.get("detail-type") != EVENTBRIDGE_DETAIL_TYPE:
                raise AlarmPayloadError(
                    f"EventBridge event of type {str(data.get('detail-type'))[:80]!r} "
                    f"is not a {EVENTBRIDGE_DETAIL_TYPE!r}"
                )
            event = _EbEvent.model_validate(data)
            return AlarmNotice(
                alarm=_from_eventbridge(event), key=f"eventbridge:{event.id}", kind="eventbridge"
            )
        if "AlarmName" in data:
            message = _CloudWatchMessage.model_validate(data)
            digest = hashlib.sha256(
                f"{message.AlarmArn or message.AlarmName}|{message.StateChangeTime.isoformat()}|"
                f"{message.NewStateValue}".encode()
            ).hexdigest()[:32]
            return AlarmNotice(
                alarm=_from_cloudwatch(message), key=f"cloudwatch:{digest}", kind="cloudwatch"
            )
    except ValidationError as exc:
        raise AlarmPayloadError(f"not a valid alarm payload: {_problem(exc)}") from None
    raise AlarmPayloadError(
        "payload is neither an SNS notification, an EventBridge alarm event nor a "
        "CloudWatch alarm message"
    )
