import contextlib
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.ingest.alarms import AlarmPayloadError, parse_alarm_payload
from bot.models import AlarmState
from bot.sim.payloads import cloudwatch_message, eventbridge_event, sns_notification
from tests.conftest import T0
from tests.factories import ALARM


def test_sns_notification_round_trips():
    notice = parse_alarm_payload(json.dumps(sns_notification(ALARM, "msg-1")))
    assert notice.kind == "sns" and notice.key == "sns:msg-1"
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
