import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ingest.alarms import AlarmPayloadError, parse_alarm_payload, read_document
from bot.models import Alarm, AlarmKind, AlarmMetric, AlarmState
from bot.sim.payloads import (
    alarm_action_event,
    cloudwatch_message,
    eventbridge_event,
    lambda_sns_event,
    lambda_sqs_event,
    sns_notification,
)
from tests.conftest import T0
from tests.factories import ALARM


def test_sns_notification_round_trips():
    notice = parse_alarm_payload(json.dumps(sns_notification(ALARM, "msg-1")))
    assert notice.kind == "sns" and notice.key == "sns:msg-1"
    assert notice.delivery == "sns-http" and notice.topic_arn.endswith(":llm-incident-alarms")
    assert notice.alarm == ALARM


def test_eventbridge_event_round_trips_what_it_carries():
    notice = parse_alarm_payload(eventbridge_event(ALARM, "evt-1"))
    assert notice.key == "eventbridge:evt-1"
    alarm = notice.alarm
    assert (alarm.name, alarm.metric, alarm.dimensions, alarm.statistic) == (
        ALARM.name,
        ALARM.metric,
        ALARM.dimensions,
        "Sum",
    )
    assert alarm.changed_at == T0 and alarm.region == "eu-west-1"
    assert alarm.state is AlarmState.ALARM and alarm.previous_state is AlarmState.OK


def test_bare_cloudwatch_message_gets_a_stable_key():
    message = cloudwatch_message(ALARM)
    first, second = parse_alarm_payload(message), parse_alarm_payload(json.dumps(message))
    assert first.key == second.key and first.key.startswith("cloudwatch:")
    assert first.alarm.region == "eu-west-1"  # from the ARN, not the long region name


def test_percentile_alarms_keep_their_statistic():
    alarm = ALARM.model_copy(update={"statistic": "p99"})
    message = cloudwatch_message(alarm)
    assert message["Trigger"]["StatisticType"] == "ExtendedStatistic"
    assert parse_alarm_payload(message).alarm.statistic == "p99"


@pytest.mark.parametrize(
    ("payload", "words"),
    [
        ("not json", "not JSON"),
        ("[1, 2]", "not a JSON object"),
        ({"Type": "Notification", "MessageId": "m", "Message": "hello"}, "not a CloudWatch alarm"),
        ({"detail-type": "EC2 Instance State-change Notification"}, "is not a 'CloudWatch Alarm"),
        (
            {
                "AlarmName": "x",
                "NewStateValue": "PURPLE",
                "StateChangeTime": "2026-01-01T00:00:00Z",
            },
            "NewStateValue",
        ),
        ({"hello": "world"}, "neither an SNS notification"),
    ],
)
def test_bad_payloads_are_rejected_with_a_reason(payload, words):
    raw = payload if isinstance(payload, str) else json.dumps(payload)
    with pytest.raises(AlarmPayloadError, match=words):
        parse_alarm_payload(raw)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=5)
    ),
    max_leaves=25,
)


@given(json_values)
def test_parser_raises_only_its_own_error_on_any_json(value):
    with contextlib.suppress(AlarmPayloadError):
        parse_alarm_payload(json.dumps(value))


@given(
    st.dictionaries(
        st.sampled_from(["AlarmName", "NewStateValue", "StateChangeTime", "Trigger", "AlarmArn"]),
        json_values,
    )
)
def test_parser_survives_mangled_cloudwatch_messages(value):
    with contextlib.suppress(AlarmPayloadError):
        parse_alarm_payload(value)


# -- every kind, every carrier -------------------------------------------------------------
_word = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=24)
_dims = st.dictionaries(
    st.sampled_from(["FunctionName", "ModelId", "GuardrailArn", "TableName"]), _word, max_size=3
)
_regions = st.sampled_from(
    ["us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"]
)
_comparisons = {
    "GreaterThanThreshold": "was greater than the threshold",
    "GreaterThanOrEqualToThreshold": "was greater than or equal to the threshold",
    "LessThanThreshold": "was less than the threshold",
    "LessThanOrEqualToThreshold": "was less than or equal to the threshold",
}


@st.composite
def alarms(draw) -> Alarm:
    """Alarms of every kind, as CloudWatch could send them."""
    kind = draw(st.sampled_from(list(AlarmKind)))
    region, account = draw(_regions), draw(st.from_regex(r"[1-9]\d{11}", fullmatch=True))
    name = draw(_word)
    comparison = draw(st.sampled_from(sorted(_comparisons)))
    threshold = float(draw(st.integers(1, 10_000)))
    fields: dict = {}
    metrics = [
        AlarmMetric(
            id=f"m{i}",
            namespace=draw(st.sampled_from(["AWS/Bedrock", "AWS/Lambda", "Custom/App"])),
            metric=draw(_word),
            dimensions=draw(_dims),
            statistic=draw(st.sampled_from(["Sum", "Average", "Maximum"])),
            period=draw(st.sampled_from([60, 300])),
        )
        for i in range(1, draw(st.integers(1, 3)) + 1)
    ]
    if kind is AlarmKind.METRIC:
        only = metrics[0]
        statistic = draw(st.sampled_from(["Sum", "Average", "p99", "p90"]))
        fields = {"namespace": only.namespace, "metric": only.metric, "dimensions": only.dimensions}
        fields |= {"statistic": statistic, "period": only.period}
    elif kind is AlarmKind.MATH:
        fields = {"expression": "+".join(m.id for m in metrics), "metrics": metrics}
    elif kind is AlarmKind.ANOMALY:
        fields = {"expression": "ANOMALY_DETECTION_BAND(m1, 2)", "metrics": metrics[:1]}
        threshold = 0.0
    elif kind is AlarmKind.INSIGHTS:
        fields = {"expression": 'SELECT AVG(InvocationLatency) FROM "AWS/Bedrock" GROUP BY ModelId'}
    else:
        children = [f"arn:aws:cloudwatch:{region}:{account}:alarm:{draw(_word)}" for _ in range(2)]
        fields = {"rule": f"ALARM({children[0]}) OR ALARM({children[1]})", "children": children}
        comparison, threshold = "GreaterThanThreshold", 0.0
    if kind in (AlarmKind.MATH, AlarmKind.ANOMALY):
        fields["period"] = fields["metrics"][0].period
    return Alarm(
        name=name,
        description=draw(st.sampled_from(["", "what it watches"])),
        kind=kind,
        state=draw(st.sampled_from(list(AlarmState))),
        previous_state=draw(st.sampled_from(list(AlarmState))),
        reason=f"Threshold Crossed: 1 datapoint [1.0] {_comparisons[comparison]} ({threshold}).",
        comparison=comparison,
        threshold=threshold,
        changed_at=T0,
        region=region,
        account=account,
        arn=f"arn:aws:cloudwatch:{region}:{account}:alarm:{name}",
        **fields,
    )


CARRIED = (
    "name", "description", "state", "previous_state", "region", "account", "arn", "kind",
    "namespace", "metric", "dimensions", "statistic", "period", "expression", "metrics",
    "rule", "children", "threshold", "comparison", "changed_at",
)  # fmt: skip


def carried(alarm: Alarm) -> dict:
    return alarm.model_dump(include=set(CARRIED))


@given(alarms())
def test_every_carrier_of_an_alarm_reads_the_same_alarm(alarm):
    """The SNS message, its envelope in a Lambda SNS event and in an SQS message, the
    EventBridge event and the alarm action event: one alarm, whatever carried it."""
    envelope = sns_notification(alarm, "m-1")
    documents = {
        "bare-message": cloudwatch_message(alarm),
        "sns-http": envelope,
        "lambda-sns": lambda_sns_event([envelope]),
        "sqs": lambda_sqs_event([json.dumps(envelope)], "arn:aws:sqs:us-east-1:1:q"),
        "eventbridge": eventbridge_event(alarm, "e-1"),
        "lambda-alarm-action": alarm_action_event(alarm),
    }
    for delivery, document in documents.items():
        [reading] = read_document(json.dumps(document))
        assert reading.delivery == delivery and not reading.problem, reading
        assert carried(reading.notice.alarm) == carried(alarm), delivery


@given(json_values)
def test_reading_any_document_raises_only_its_own_error(value):
    with contextlib.suppress(AlarmPayloadError):
        read_document(json.dumps(value))


@given(st.lists(json_values, min_size=1, max_size=3))
def test_a_lambda_batch_of_anything_reads_a_reading_per_record(records):
    sqs = [
        {"eventSource": "aws:sqs", "messageId": str(i), "body": json.dumps(r)}
        for i, r in enumerate(records)
    ]
    readings = read_document({"Records": sqs})
    assert [r.item for r in readings] == [str(i) for i in range(len(records))]
