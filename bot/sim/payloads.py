"""Alarms rendered as AWS delivers them: the CloudWatch message, its SNS envelope, the
EventBridge event, the event an alarm's Lambda action sends, and the Lambda events that
carry them (an SNS subscription's records, an SQS batch).

The inverse of `bot.ingest`: a scenario's alarm enters the bot through the same parser a
real alarm does, whatever its kind (metric, math, anomaly, Metrics Insights, composite).
The SNS envelope is unsigned (`bot.sim.fakes.sns` signs one).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from bot.ingest.alarms import EVENTBRIDGE_DETAIL_TYPE, REGION_NAMES, STAT_NAMES
from bot.models import Alarm, AlarmKind, AlarmState, utc

TOPIC = "llm-incident-alarms"


def _aws_time(at: datetime) -> str:
    at = utc(at)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def _sns_queries(alarm: Alarm) -> list[dict[str, Any]]:
    """A math, anomaly or Metrics Insights alarm's `Trigger.Metrics`."""
    queries: list[dict[str, Any]] = []
    if alarm.expression:
        queries.append(
            {"Expression": alarm.expression, "Id": "e1", "Label": "Expression1", "ReturnData": True}
        )
    for index, metric in enumerate(alarm.metrics, 1):
        queries.append(
            {
                "Id": metric.id or f"m{index}",
                "MetricStat": {
                    "Metric": {
                        "Dimensions": [
                            {"value": v, "name": k} for k, v in metric.dimensions.items()
                        ],
                        "MetricName": metric.metric,
                        "Namespace": metric.namespace,
                    },
                    "Period": metric.period,
                    "Stat": metric.statistic,
                },
                "ReturnData": alarm.kind is AlarmKind.ANOMALY,
            }
        )
    return queries


def _trigger(alarm: Alarm) -> dict[str, Any]:
    trigger: dict[str, Any] = {
        "Period": alarm.period,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.evaluation_periods,
        "ComparisonOperator": alarm.comparison,
        "TreatMissingData": "missing",
        "EvaluateLowSampleCountPercentile": "",
    }
    if alarm.kind is not AlarmKind.METRIC:
        trigger["Metrics"] = _sns_queries(alarm)
        if alarm.kind is AlarmKind.ANOMALY:
            trigger["ThresholdMetricId"] = "e1"
        else:
            trigger["Threshold"] = alarm.threshold
        return trigger
    percentile = alarm.statistic not in STAT_NAMES
    trigger |= {
        "MetricName": alarm.metric,
        "Namespace": alarm.namespace,
        "StatisticType": "ExtendedStatistic" if percentile else "Statistic",
        "Unit": None,
        "Dimensions": [{"value": v, "name": k} for k, v in alarm.dimensions.items()],
        "Threshold": alarm.threshold,
    }
    if percentile:
        trigger["ExtendedStatistic"] = alarm.statistic
    else:
        trigger["Statistic"] = STAT_NAMES[alarm.statistic]
    return trigger


def cloudwatch_message(alarm: Alarm) -> dict[str, Any]:
    """The JSON CloudWatch publishes to SNS for an alarm state change."""
    message: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description or None,
        "AWSAccountId": alarm.account,
        "AlarmConfigurationUpdatedTimestamp": _aws_time(alarm.changed_at),
        "NewStateValue": alarm.state.value,
        "NewStateReason": alarm.reason,
        "StateChangeTime": _aws_time(alarm.changed_at),
        "Region": REGION_NAMES.get(alarm.region, alarm.region),
        "AlarmArn": alarm.arn,
        "OldStateValue": (alarm.previous_state or AlarmState.OK).value,
        "OKActions": [],
        "AlarmActions": [f"arn:aws:sns:{alarm.region}:{alarm.account}:{TOPIC}"],
        "InsufficientDataActions": [],
    }
    if alarm.kind is AlarmKind.COMPOSITE:
        message["AlarmRule"] = alarm.rule
        message["TriggeringChildren"] = [
            {"Arn": child, "State": {"Value": "ALARM", "Timestamp": _aws_time(alarm.changed_at)}}
            for child in alarm.children
        ]
    else:
        message["Trigger"] = _trigger(alarm)
    return message


def sns_notification(alarm: Alarm, message_id: str | None = None) -> dict[str, Any]:
    """The SNS `Notification` envelope around the alarm message (unsigned: see README)."""
    region_name = REGION_NAMES.get(alarm.region, alarm.region)
    topic = f"arn:aws:sns:{alarm.region}:{alarm.account}:{TOPIC}"
    return {
        "Type": "Notification",
        "MessageId": message_id
        or str(uuid.uuid5(uuid.NAMESPACE_URL, f"{alarm.arn}|{alarm.changed_at}")),
        "TopicArn": topic,
        "Subject": f'{alarm.state.value}: "{alarm.name}" in {region_name}'[:100],
        "Message": json.dumps(cloudwatch_message(alarm)),
        "Timestamp": utc(alarm.changed_at).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "SignatureVersion": "1",
        "UnsubscribeURL": f"https://sns.{alarm.region}.amazonaws.com/?Action=Unsubscribe",
    }


def _alarm_data(alarm: Alarm) -> dict[str, Any]:
    """The alarm as EventBridge's `detail` (and a Lambda action's `alarmData`) has it."""
    previous = (alarm.previous_state or AlarmState.OK).value
    state: dict[str, Any] = {
        "value": alarm.state.value,
        "reason": alarm.reason,
        "timestamp": _aws_time(alarm.changed_at),
    }
    configuration: dict[str, Any] = {"description": alarm.description}
    if alarm.kind is AlarmKind.COMPOSITE:
        configuration["alarmRule"] = alarm.rule
        triggering = [
            {"arn": child, "state": {"value": "ALARM", "timestamp": _aws_time(alarm.changed_at)}}
            for child in alarm.children
        ]
        state["reasonData"] = json.dumps({"triggeringAlarms": triggering})
    else:
        state["reasonData"] = json.dumps({"version": "1.0", "threshold": alarm.threshold})
        configuration["metrics"] = _eb_queries(alarm)
    data: dict[str, Any] = {
        "alarmName": alarm.name,
        "state": state,
        "previousState": {
            "value": previous,
            "reason": "",
            "timestamp": _aws_time(alarm.changed_at),
        },
        "configuration": configuration,
    }
    if alarm.muted_by.startswith("mute rule "):
        data["muteDetail"] = {"mutedByArn": alarm.muted_by.removeprefix("mute rule ")}
    elif alarm.muted_by.startswith("actions suppressed by "):
        state["actionsSuppressedBy"] = alarm.muted_by.removeprefix("actions suppressed by ")
    return data


def _eb_queries(alarm: Alarm) -> list[dict[str, Any]]:
    def stat(namespace: str, name: str, dimensions: dict[str, str], stat: str, period: int):
        return {
            "metric": {"namespace": namespace, "name": name, "dimensions": dict(dimensions)},
            "period": period,
            "stat": stat,
        }

    if alarm.kind is AlarmKind.METRIC:
        single = stat(
            alarm.namespace, alarm.metric, alarm.dimensions, alarm.statistic, alarm.period
        )
        return [{"id": "m1", "metricStat": single, "returnData": True}]
    queries: list[dict[str, Any]] = []
    if alarm.expression:
        queries.append({"id": "e1", "expression": alarm.expression, "returnData": True})
        if alarm.kind is AlarmKind.INSIGHTS:
            queries[0]["period"] = alarm.period
    for index, metric in enumerate(alarm.metrics, 1):
        queries.append(
            {
                "id": metric.id or f"m{index}",
                "metricStat": stat(
                    metric.namespace,
                    metric.metric,
                    metric.dimensions,
                    metric.statistic,
                    metric.period,
                ),
                "returnData": alarm.kind is AlarmKind.ANOMALY,
            }
        )
    return queries


def eventbridge_event(alarm: Alarm, event_id: str | None = None) -> dict[str, Any]:
    """The EventBridge `CloudWatch Alarm State Change` event for the alarm."""
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"eb|{alarm.arn}|{alarm.changed_at}")),
        "detail-type": EVENTBRIDGE_DETAIL_TYPE,
        "source": "aws.cloudwatch",
        "account": alarm.account,
        "time": utc(alarm.changed_at).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": alarm.region,
        "resources": [alarm.arn],
        "detail": _alarm_data(alarm),
    }


def alarm_action_event(alarm: Alarm) -> dict[str, Any]:
    """The event an alarm's Lambda action invokes the function with."""
    return {
        "source": "aws.cloudwatch",
        "alarmArn": alarm.arn,
        "accountId": alarm.account,
        "time": _aws_time(alarm.changed_at),
        "region": alarm.region,
        "alarmData": _alarm_data(alarm),
    }


def lambda_sns_event(notifications: list[dict[str, Any]]) -> dict[str, Any]:
    """The event a Lambda subscribed to the topic receives: one record per notification."""
    records = []
    for notification in notifications:
        topic = notification.get("TopicArn", "")
        sns = {**notification, "MessageAttributes": {}}
        sns["SigningCertUrl"] = sns.pop("SigningCertURL", "https://sns.amazonaws.com/cert.pem")
        sns["UnsubscribeUrl"] = sns.pop("UnsubscribeURL", "")
        records.append(
            {
                "EventSource": "aws:sns",
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{topic}:{uuid.uuid5(uuid.NAMESPACE_URL, topic)}",
                "Sns": sns,
            }
        )
    return {"Records": records}


def lambda_sqs_event(bodies: list[str], queue_arn: str) -> dict[str, Any]:
    """The event an SQS event source mapping hands the function: one record per message."""
    region = queue_arn.split(":")[3] if queue_arn.count(":") >= 5 else "us-east-1"
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{queue_arn}|{i}|{body}")),
                "receiptHandle": f"handle-{i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": region,
            }
            for i, body in enumerate(bodies)
        ]
    }
