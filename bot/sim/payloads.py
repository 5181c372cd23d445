"""Alarms rendered as AWS delivers them: the CloudWatch message, its SNS envelope and the
EventBridge event.

The inverse of `bot.ingest.alarms`: a scenario's alarm enters the bot through the same
parser a real alarm does. The SNS envelope is unsigned (`bot.sim.fakes.sns` signs one).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from bot.ingest.alarms import EVENTBRIDGE_DETAIL_TYPE, REGION_NAMES, STAT_NAMES
from bot.models import Alarm, AlarmState, utc


def _aws_time(at: datetime) -> str:
    at = utc(at)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}+0000"


def cloudwatch_message(alarm: Alarm) -> dict[str, Any]:
    """The JSON CloudWatch publishes to SNS for an alarm state change."""
    percentile = alarm.statistic not in STAT_NAMES
    trigger: dict[str, Any] = {
        "MetricName": alarm.metric,
        "Namespace": alarm.namespace,
        "StatisticType": "ExtendedStatistic" if percentile else "Statistic",
        "Unit": None,
        "Dimensions": [{"value": v, "name": k} for k, v in alarm.dimensions.items()],
        "Period": alarm.period,
        "EvaluationPeriods": alarm.evaluation_periods,
        "DatapointsToAlarm": alarm.evaluation_periods,
        "ComparisonOperator": alarm.comparison,
        "Threshold": alarm.threshold,
        "TreatMissingData": "missing",
        "EvaluateLowSampleCountPercentile": "",
    }
    if percentile:
        trigger["ExtendedStatistic"] = alarm.statistic
    else:
        trigger["Statistic"] = STAT_NAMES[alarm.statistic]
    return {
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
        "AlarmActions": [f"arn:aws:sns:{alarm.region}:{alarm.account}:llm-incident-alarms"],
        "InsufficientDataActions": [],
        "Trigger": trigger,
    }


def sns_notification(alarm: Alarm, message_id: str | None = None) -> dict[str, Any]:
    """The SNS `Notification` envelope around the alarm message (unsigned: see README)."""
    region_name = REGION_NAMES.get(alarm.region, alarm.region)
    topic = f"arn:aws:sns:{alarm.region}:{alarm.account}:llm-incident-alarms"
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


def eventbridge_event(alarm: Alarm, event_id: str | None = None) -> dict[str, Any]:
    """The EventBridge `CloudWatch Alarm State Change` event for the alarm."""
    previous = (alarm.previous_state or AlarmState.OK).value
    return {
        "version": "0",
        "id": event_id or str(uuid.uuid5(uuid.NAMESPACE_URL, f"eb|{alarm.arn}|{alarm.changed_at}")),
        "detail-type": EVENTBRIDGE_DETAIL_TYPE,
        "source": "aws.cloudwatch",
        "account": alarm.account,
        "time": utc(alarm.changed_at).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": alarm.region,
        "resources": [alarm.arn],
        "detail": {
            "alarmName": alarm.name,
            "state": {
                "value": alarm.state.value,
                "reason": alarm.reason,
                "timestamp": _aws_time(alarm.changed_at),
            },
            "previousState": {
                "value": previous,
                "reason": "",
                "timestamp": _aws_time(alarm.changed_at),
            },
            "configuration": {
                "description": alarm.description,
                "metrics": [
                    {
                        "id": "m1",
                        "metricStat": {
                            "metric": {
                                "namespace": alarm.namespace,
                                "name": alarm.metric,
                                "dimensions": dict(alarm.dimensions),
                            },
                            "period": alarm.period,
                            "stat": alarm.statistic,
                        },
                        "returnData": True,
                    }
                ],
            },
        },
    }
