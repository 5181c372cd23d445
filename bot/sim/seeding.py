"""Write a scenario's telemetry into an AWS endpoint, where the production tools read it.

Used by `llm-incident simulate`, the demo and offline investigations, always against
an emulator: seeding writes, so it is never pointed at a real account by the tools.
CloudTrail cannot be written to, so change events go to the CloudWatch Logs group a
trail delivers to (see docs/operations.md, "What differs from AWS").
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from bot.models import Alarm
from bot.sim.expand import LogEvent, Telemetry
from tools.aws import AwsClients

METRIC_BATCH = 500
LOG_BATCH = 10_000  # PutLogEvents' limits: 10,000 events and 1,048,576 bytes per call,
LOG_BATCH_BYTES = 1_048_576  # counting each event's UTF-8 message plus 26 bytes
TRACE_BATCH = 50
SENDERS = 4  # batches in flight at once: a million lines seed in well under two minutes
CLOUDTRAIL_STREAM = "cloudtrail-delivery"


def _chunks(items: list[Any], size: int) -> Iterator[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def seed_metrics(aws: AwsClients, telemetry: Telemetry) -> int:
    client = aws.client("cloudwatch")
    count = 0
    by_namespace: dict[str, list[dict[str, Any]]] = {}
    for series in telemetry.metrics:
        for at, value in series.points:
            datum: dict[str, Any] = {
                "MetricName": series.name,
                "Dimensions": [{"Name": k, "Value": v} for k, v in series.dimensions.items()],
                "Timestamp": at,
                "Value": value,
            }
            if series.unit:
                datum["Unit"] = series.unit
            by_namespace.setdefault(series.namespace, []).append(datum)
    for namespace, data in by_namespace.items():
        for batch in _chunks(data, METRIC_BATCH):
            client.put_metric_data(Namespace=namespace, MetricData=batch)
            count += len(batch)
    return count


def seed_alarm(aws: AwsClients, alarm: Alarm) -> None:
    """Define the alarm as CloudWatch has it, then put it into ALARM with its reason."""
    client = aws.client("cloudwatch")
    kwargs: dict[str, Any] = {
        "AlarmName": alarm.name,
        "AlarmDescription": alarm.description,
        "Namespace": alarm.namespace,
        "MetricName": alarm.metric,
        "Dimensions": [{"Name": k, "Value": v} for k, v in alarm.dimensions.items()],
        "Period": alarm.period,
        "EvaluationPeriods": alarm.evaluation_periods,
        "Threshold": alarm.threshold,
        "ComparisonOperator": alarm.comparison,
        "ActionsEnabled": False,
    }
    if alarm.statistic.startswith(("p", "tm", "wm", "tc", "ts", "IQM")):
        kwargs["ExtendedStatistic"] = alarm.statistic
    else:
        kwargs["Statistic"] = alarm.statistic
    client.put_metric_alarm(**kwargs)
    client.set_alarm_state(
        AlarmName=alarm.name,
        StateValue=alarm.state.value,
        StateReason=alarm.reason[:1023] or "Threshold Crossed",
    )


def _ensure_stream(client: Any, group: str, stream: str) -> None:
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_group(logGroupName=group)
    with contextlib.suppress(client.exceptions.ResourceAlreadyExistsException):
        client.create_log_stream(logGroupName=group, logStreamName=stream)


def log_batches(events: list[LogEvent]) -> Iterator[list[dict[str, Any]]]:
    """Events in time order, cut into batches PutLogEvents accepts: at most LOG_BATCH
    events and LOG_BATCH_BYTES bytes, spanning less than a day."""
    ordered = sorted(events, key=lambda e: e.timestamp_ms)
    day_ms = int(timedelta(hours=23).total_seconds() * 1000)
    batch: list[dict[str, Any]] = []
    size = 0
    for event in ordered:
        cost = len(event.message.encode("utf-8")) + 26
        if batch and (
            len(batch) >= LOG_BATCH
            or size + cost > LOG_BATCH_BYTES
            or event.timestamp_ms - batch[0]["timestamp"] > day_ms
        ):
            yield batch
            batch, size = [], 0
        batch.append({"timestamp": event.timestamp_ms, "message": event.message})
        size += cost
    if batch:
        yield batch


def put_events(aws: AwsClients, group: str, stream: str, events: list[LogEvent]) -> int:
    """PutLogEvents in batches that respect its count, size and 24-hour-span limits,
    several in flight at once."""
    client = aws.client("logs")
    _ensure_stream(client, group, stream)

    def send(batch: list[dict[str, Any]]) -> int:
        client.put_log_events(logGroupName=group, logStreamName=stream, logEvents=batch)
        return len(batch)

    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        return sum(pool.map(send, log_batches(events)))


def seed_traces(aws: AwsClients, telemetry: Telemetry) -> int:
    client = aws.client("xray")

    def send(batch: list[str]) -> None:
        client.put_trace_segments(TraceSegmentDocuments=batch)

    with ThreadPoolExecutor(max_workers=SENDERS) as pool:
        list(pool.map(send, _chunks(telemetry.trace_documents, TRACE_BATCH)))
    return len(telemetry.trace_documents)


def seed_spans(aws: AwsClients, telemetry: Telemetry) -> int:
    """OpenTelemetry span events into the spans log group, as Transaction Search holds
    them. Real AWS refuses PutLogEvents on `aws/spans`; only an emulator takes this."""
    return sum(
        put_events(aws, stream.group, stream.stream, stream.events) for stream in telemetry.spans
    )


def seed_changes(aws: AwsClients, telemetry: Telemetry, log_group: str) -> int:
    """CloudTrail records into the log group a trail delivers to."""
    events = [
        LogEvent(int(change["EventTime"].timestamp() * 1000), change["CloudTrailEvent"])
        for change in telemetry.changes
    ]
    if not events:
        return 0
    return put_events(aws, log_group, CLOUDTRAIL_STREAM, events)


def seed(aws: AwsClients, telemetry: Telemetry, cloudtrail_log_group: str) -> dict[str, int]:
    """Everything of a scenario; returns how much of each kind was written."""
    counts = {"datapoints": seed_metrics(aws, telemetry)}
    for alarm in [telemetry.alarm, *telemetry.also_firing]:
        seed_alarm(aws, alarm)
    counts["log_events"] = sum(
        put_events(aws, stream.group, stream.stream, stream.events) for stream in telemetry.logs
    )
    counts["trace_segments"] = seed_traces(aws, telemetry)
    counts["spans"] = seed_spans(aws, telemetry)
    counts["changes"] = seed_changes(aws, telemetry, cloudtrail_log_group)
    return counts
