"""The alarm itself, in the two ways CloudWatch writes one.

- The **alarm message** CloudWatch publishes to SNS (PascalCase: `AlarmName`,
  `NewStateValue`, `Trigger` with `MetricName` or `Metrics`, or `AlarmRule` and
  `TriggeringChildren` for a composite).
- The **alarm data** of an EventBridge `CloudWatch Alarm ...` event's `detail`, which is
  also the `alarmData` of the event an alarm's Lambda action sends (camelCase:
  `alarmName`, `state`, `configuration.metrics` or `configuration.alarmRule`,
  `muteDetail`).

Both become one `Alarm` with its kind (metric, math, anomaly, insights, composite), so
the same alarm reads the same whichever way it arrived. Real payloads are looser than
the documentation: timestamps and ARNs with spaces in them, `Dimensions` as a list of
`name`/`value` pairs or a mapping, `null` where a string belongs, no `Trigger` at all.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from bot.ingest.regions import account_id, arn_account, arn_region, clean_arn, region_code
from bot.models import Alarm, AlarmKind, AlarmMetric, AlarmState

STAT_NAMES = {
    "Sum": "SUM",
    "Average": "AVERAGE",
    "Maximum": "MAXIMUM",
    "Minimum": "MINIMUM",
    "SampleCount": "SAMPLE_COUNT",
}
STAT_FROM_SNS = {v: k for k, v in STAT_NAMES.items()}
ANOMALY_BAND = "ANOMALY_DETECTION_BAND"
# The comparison CloudWatch's own reason text states, for carriers that do not say it.
_REASON_COMPARISON = re.compile(
    r"was (not )?(greater|less) than (or equal to )?the threshold", re.IGNORECASE
)


def _squeezed(value: Any) -> Any:
    """`2023-08-04T12: 36: 15.490+0000` (seen in real payloads) -> parseable."""
    if isinstance(value, str):
        text = re.sub(r"\s+", "", value)
        return re.sub(r"([+-]\d{2})(\d{2})$", r"\1:\2", text)
    return value


def _text(value: Any) -> Any:
    return "" if value is None else value


def _dimensions(value: Any) -> Any:
    """Dimensions as a mapping, from `[{"name": .., "value": ..}]` or `{"Name": "Value"}`."""
    if value is None:
        return {}
    if isinstance(value, list):
        found = {}
        for item in value:
            if isinstance(item, dict):
                lowered = {str(k).lower(): v for k, v in item.items()}
                if "name" in lowered:
                    found[str(lowered["name"])] = str(_text(lowered.get("value")))
        return found
    return value


When = Annotated[datetime, BeforeValidator(_squeezed)]
Text = Annotated[str, BeforeValidator(_text)]
DimensionMap = Annotated[dict[str, str], BeforeValidator(_dimensions)]


class _Loose(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)


# -- the SNS alarm message ----------------------------------------------------------------
class _SnsMetric(_Loose):
    MetricName: Text = ""
    Namespace: Text = ""
    Dimensions: DimensionMap = Field(default_factory=dict)


class _SnsMetricStat(_Loose):
    Metric: _SnsMetric = Field(default_factory=_SnsMetric)
    Period: int = Field(default=60, ge=1)
    Stat: Text = "Average"


class _SnsQuery(_Loose):
    Id: Text = ""
    Expression: Text = ""
    ReturnData: bool | None = None
    MetricStat: _SnsMetricStat | None = None


class _Trigger(_Loose):
    MetricName: Text = ""
    Namespace: Text = ""
    Statistic: str | None = None
    ExtendedStatistic: str | None = None
    Dimensions: DimensionMap = Field(default_factory=dict)
    Period: int = Field(default=60, ge=1)
    EvaluationPeriods: int = Field(default=1, ge=1)
    ComparisonOperator: Text = "GreaterThanThreshold"
    Threshold: float | None = None
    ThresholdMetricId: Text = ""
    Metrics: list[_SnsQuery] = Field(default_factory=list)


class _Child(_Loose):
    Arn: Text = ""


class AlarmMessage(_Loose):
    """The JSON CloudWatch publishes to SNS when an alarm changes state."""

    AlarmName: str = Field(min_length=1, max_length=255)
    AlarmDescription: Text = ""
    AWSAccountId: Text = ""
    NewStateValue: AlarmState
    NewStateReason: Text = ""
    StateChangeTime: When
    Region: Text = ""
    AlarmArn: Text = ""
    OldStateValue: AlarmState | None = None
    Trigger: _Trigger | None = None
    AlarmRule: Text = ""
    TriggeringChildren: list[_Child] = Field(default_factory=list)


# -- EventBridge's alarm data -------------------------------------------------------------
class _EbMetric(_Loose):
    namespace: Text = ""
    name: Text = ""
    dimensions: DimensionMap = Field(default_factory=dict)


class _EbMetricStat(_Loose):
    metric: _EbMetric = Field(default_factory=_EbMetric)
    period: int = Field(default=60, ge=1)
    stat: Text = "Average"


class _EbQuery(_Loose):
    id: Text = ""
    expression: Text = ""
    returnData: bool | None = None
    period: int | None = None
    metricStat: _EbMetricStat | None = None


class _EbState(_Loose):
    value: AlarmState
    reason: Text = ""
    reasonData: Text = ""
    timestamp: When
    actionsSuppressedBy: Text = ""


class _EbConfiguration(_Loose):
    description: Text = ""
    metrics: list[_EbQuery] = Field(default_factory=list)
    alarmRule: Text = ""
    threshold: float | None = None
    comparisonOperator: Text = ""
    evaluationPeriods: int | None = Field(default=None, ge=1)


class _MuteDetail(_Loose):
    mutedByArn: Text = ""


class AlarmData(_Loose):
    """An EventBridge alarm event's `detail`, or an alarm action's `alarmData`."""

    alarmName: str = Field(min_length=1, max_length=255)
    state: _EbState
    previousState: _EbState | None = None
    configuration: _EbConfiguration = Field(default_factory=_EbConfiguration)
    muteDetail: _MuteDetail | None = None


# -- one Alarm from either ------------------------------------------------------------------
class _Query(BaseModel):
    """A query of a metric alarm, whichever carrier it came in."""

    id: str
    expression: str
    returned: bool
    metric: AlarmMetric | None


def _shape(
    queries: list[_Query], threshold_id: str = ""
) -> tuple[AlarmKind, str, list[AlarmMetric]]:
    """What the queries make of the alarm: its kind, its expression, the metrics it reads."""
    metrics = [q.metric for q in queries if q.metric is not None]
    expressions = [q for q in queries if q.expression.strip()]
    if not expressions:
        return (AlarmKind.METRIC if len(metrics) <= 1 else AlarmKind.MATH), "", metrics
    band = next(
        (q for q in expressions if q.id == threshold_id or ANOMALY_BAND in q.expression.upper()),
        None,
    )
    if band is not None:
        return AlarmKind.ANOMALY, band.expression, metrics
    returned = next((q for q in expressions if q.returned), expressions[0])
    if returned.expression.lstrip().upper().startswith("SELECT"):
        return AlarmKind.INSIGHTS, returned.expression, metrics
    return AlarmKind.MATH, returned.expression, metrics


def _query(
    query_id: str,
    expression: str,
    returned: bool | None,
    stat: tuple[str, str, dict[str, str], str, int] | None,
) -> _Query:
    """One query, whichever carrier's spelling it came in; `stat` is the metric it reads
    (namespace, name, dimensions, statistic, period), if any."""
    metric = None
    if stat is not None:
        namespace, name, dimensions, statistic, period = stat
        metric = AlarmMetric(
            id=query_id,
            namespace=namespace,
            metric=name,
            dimensions=dimensions,
            statistic=statistic or "Average",
            period=period,
        )
    return _Query(id=query_id, expression=expression, returned=returned is not False, metric=metric)


def _sns_queries(trigger: _Trigger) -> list[_Query]:
    return [
        _query(
            q.Id,
            q.Expression,
            q.ReturnData,
            (
                q.MetricStat.Metric.Namespace,
                q.MetricStat.Metric.MetricName,
                q.MetricStat.Metric.Dimensions,
                q.MetricStat.Stat,
                q.MetricStat.Period,
            )
            if q.MetricStat
            else None,
        )
        for q in trigger.Metrics
    ]


def _eb_queries(configuration: _EbConfiguration) -> list[_Query]:
    return [
        _query(
            q.id,
            q.expression,
            q.returnData,
            (
                q.metricStat.metric.namespace,
                q.metricStat.metric.name,
                q.metricStat.metric.dimensions,
                q.metricStat.stat,
                q.metricStat.period,
            )
            if q.metricStat
            else None,
        )
        for q in configuration.metrics
    ]


def _single(kind: AlarmKind, metrics: list[AlarmMetric]) -> dict[str, Any]:
    """The alarm's own metric fields: set for a one-metric alarm, empty otherwise."""
    if kind is AlarmKind.METRIC and len(metrics) == 1:
        only = metrics[0]
        return {
            "namespace": only.namespace,
            "metric": only.metric,
            "dimensions": dict(only.dimensions),
            "statistic": only.statistic,
            "period": only.period,
            "metrics": [],
        }
    return {"metrics": metrics, "period": metrics[0].period if metrics else 60}


def from_message(message: AlarmMessage, topic_region: str = "") -> Alarm:
    """An `Alarm` from CloudWatch's SNS alarm message; `topic_region` (the envelope's
    TopicArn) is the last place the region is looked for."""
    trigger = message.Trigger or _Trigger()
    fields: dict[str, Any] = {}
    if message.AlarmRule:
        kind, expression = AlarmKind.COMPOSITE, ""
        fields["rule"] = message.AlarmRule
        fields["children"] = [clean_arn(c.Arn) for c in message.TriggeringChildren if c.Arn]
    elif trigger.Metrics:
        kind, expression, metrics = _shape(_sns_queries(trigger), trigger.ThresholdMetricId)
        fields |= _single(kind, metrics) | {"period": trigger.Period}
    else:
        kind, expression = AlarmKind.METRIC, ""
        statistic = trigger.ExtendedStatistic or STAT_FROM_SNS.get(
            (trigger.Statistic or "").upper(), trigger.Statistic or "Average"
        )
        fields |= {
            "namespace": trigger.Namespace,
            "metric": trigger.MetricName,
            "dimensions": trigger.Dimensions,
            "statistic": statistic,
            "period": trigger.Period,
        }
    arn = clean_arn(message.AlarmArn)
    return Alarm(
        name=message.AlarmName,
        description=message.AlarmDescription,
        evaluation_periods=trigger.EvaluationPeriods,
        threshold=trigger.Threshold or 0.0,
        comparison=trigger.ComparisonOperator or "GreaterThanThreshold",
        state=message.NewStateValue,
        previous_state=message.OldStateValue,
        reason=message.NewStateReason,
        changed_at=message.StateChangeTime,
        region=arn_region(arn) or region_code(message.Region) or topic_region,
        account=arn_account(arn) or account_id(message.AWSAccountId),
        arn=arn,
        kind=kind,
        expression=expression,
        **fields,
    )


def _reason_data(state: _EbState | None) -> dict[str, Any]:
    if state is None or not state.reasonData:
        return {}
    try:
        data = json.loads(state.reasonData)
    except ValueError:
        return {}
    return data if isinstance(data, dict) else {}


def _comparison(reason: str) -> str:
    """`... was greater than or equal to the threshold` -> GreaterThanOrEqualToThreshold."""
    found = _REASON_COMPARISON.search(reason)
    if found is None or found.group(1):
        return "GreaterThanThreshold"
    side = "Greater" if found.group(2).lower() == "greater" else "Less"
    return f"{side}Than{'OrEqualTo' if found.group(3) else ''}Threshold"


def _children(state: _EbState) -> list[str]:
    triggering = _reason_data(state).get("triggeringAlarms")
    if not isinstance(triggering, list):
        return []
    return [clean_arn(str(t["arn"])) for t in triggering if isinstance(t, dict) and t.get("arn")]


def from_alarm_data(data: AlarmData, *, region: str, account: str, arn: str) -> Alarm:
    """An `Alarm` from EventBridge's alarm data; the event (or the action's envelope)
    says where: its region, account and the alarm's ARN."""
    configuration = data.configuration
    fields: dict[str, Any] = {}
    if configuration.alarmRule:
        kind, expression = AlarmKind.COMPOSITE, ""
        fields = {"rule": configuration.alarmRule, "children": _children(data.state)}
    else:
        kind, expression, metrics = _shape(_eb_queries(configuration))
        fields = _single(kind, metrics)
        periods = [q.period for q in configuration.metrics if q.period]
        if not metrics and periods:
            fields["period"] = periods[0]
    threshold = configuration.threshold
    if threshold is None:
        found = _reason_data(data.state).get("threshold")
        threshold = float(found) if isinstance(found, int | float) else 0.0
    muted = ""
    if data.muteDetail is not None and data.muteDetail.mutedByArn:
        muted = f"mute rule {clean_arn(data.muteDetail.mutedByArn)}"
    elif data.state.actionsSuppressedBy:
        muted = f"actions suppressed by {data.state.actionsSuppressedBy}"
    arn = clean_arn(arn)
    return Alarm(
        name=data.alarmName,
        description=configuration.description,
        evaluation_periods=configuration.evaluationPeriods or 1,
        threshold=threshold,
        comparison=configuration.comparisonOperator or _comparison(data.state.reason),
        state=data.state.value,
        previous_state=data.previousState.value if data.previousState else None,
        reason=data.state.reason,
        changed_at=data.state.timestamp,
        region=region_code(region) or arn_region(arn),
        account=arn_account(arn) or account_id(account),
        arn=arn,
        kind=kind,
        expression=expression,
        muted_by=muted,
        **fields,
    )
