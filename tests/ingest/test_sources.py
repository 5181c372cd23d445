"""The allow-list and the bot's decision on each reading, in the order it is made."""

import pytest

from bot.ingest.alarms import read_document
from bot.ingest.sources import AllowList, decide
from bot.models import AlarmState
from bot.sim.payloads import alarm_action_event, eventbridge_event, sns_notification
from tests.factories import ALARM

OURS = "111122223333"
TOPIC = f"arn:aws:sns:eu-west-1:{OURS}:llm-incident-alarms"  # where sns_notification sends


def reading(payload):
    [found] = read_document(payload)
    return found


@pytest.mark.parametrize(
    ("allow", "allowed"),
    [
        (AllowList(), True),
        (AllowList(accounts=frozenset({OURS})), True),
        (AllowList(accounts=frozenset({"999988887777"})), False),
        (AllowList(accounts=frozenset({OURS}), topics=frozenset({TOPIC})), True),
        (AllowList(accounts=frozenset({OURS}), topics=frozenset({TOPIC + "-other"})), False),
        (AllowList(topics=frozenset({TOPIC})), True),  # the listed topics' accounts
    ],
)
def test_an_sns_delivery_is_judged_by_its_topic(allow, allowed):
    found = decide(reading(sns_notification(ALARM, "m")), allow)
    assert (found.decision == "investigate") is allowed
    if not allowed:
        assert found.reason.startswith("not allowed:") and not found.store


def test_the_topic_not_the_message_decides_who_sent_it():
    """An SNS message names an account in its alarm (AWSAccountId, AlarmArn), but the
    topic's owner sent it: a stranger's topic claiming our account is still a stranger."""
    message = sns_notification(ALARM, "m")
    message["TopicArn"] = "arn:aws:sns:eu-west-1:999988887777:free-alarms"
    found = decide(reading(message), AllowList(accounts=frozenset({OURS})))
    assert found.reason == "not allowed: topic account 999988887777 is not allowed"


def test_an_event_or_an_action_is_judged_by_its_account():
    foreign = ALARM.model_copy(update={"account": "999988887777", "arn": ""})
    allow = AllowList(accounts=frozenset({OURS}))
    assert decide(reading(eventbridge_event(ALARM, "e")), allow).decision == "investigate"
    assert decide(reading(eventbridge_event(foreign, "e")), allow).reason.startswith("not allowed")
    assert decide(reading(alarm_action_event(ALARM)), allow).decision == "investigate"
    assert decide(reading(alarm_action_event(foreign)), allow).reason.startswith("not allowed")
    only_topics = AllowList(topics=frozenset({TOPIC}))
    assert decide(reading(eventbridge_event(ALARM, "e")), only_topics).decision == "investigate"


def test_the_checks_come_in_order():
    allow = AllowList(accounts=frozenset({OURS}))
    muted = eventbridge_event(ALARM, "e")
    muted["detail"]["muteDetail"] = {
        "mutedByArn": "arn:aws:cloudwatch:eu-west-1:1:alarm-mute-rule:r"
    }
    assert decide(reading(muted), allow).reason == (
        "muted: mute rule arn:aws:cloudwatch:eu-west-1:1:alarm-mute-rule:r"
    )
    foreign_muted = {**muted, "account": "999988887777"}
    assert decide(reading(foreign_muted), allow).reason.startswith("not allowed")
    changed = {
        **eventbridge_event(ALARM, "e"),
        "detail-type": "CloudWatch Alarm Configuration Change",
    }
    assert decide(reading(changed), allow).reason == (
        "not an alarm event: CloudWatch Alarm Configuration Change"
    )
    ok = ALARM.model_copy(update={"state": AlarmState.OK})
    found = decide(reading(eventbridge_event(ok, "e")), allow)
    assert (found.decision, found.store) == ("skip", True), "an OK is stored: it resolves"
    assert found.reason == "not ALARM: OK (resolves its open incident)"
