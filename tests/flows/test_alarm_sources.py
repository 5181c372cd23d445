"""Whose alarms get in over `/aws/sns`: a signed message from a topic outside the
allow-list is refused (403, no incident, no post), its subscription is not confirmed, a
stale message is refused, a replayed one is dropped, and each refusal is counted on
`/metrics`. SNS signs every account's messages with the same certificate, so the
stranger's messages here are signed exactly as ours are."""

from __future__ import annotations

import json
import logging
import urllib.request

import pytest
import responses

from bot.config import Settings
from bot.sim.fakes.bot_server import serving
from bot.sim.fakes.slack import fake_slack
from bot.sim.fakes.sns import (
    CERT_URL,
    PEM,
    cert_url,
    notification,
    signed,
    stamp,
    subscription_confirmation,
)
from bot.sim.payloads import cloudwatch_message
from tests.factories import ALARM
from tests.fixtures.loopback import post

OURS = "arn:aws:sns:eu-west-1:111122223333:genai-alarms"
OTHER_OF_OURS = "arn:aws:sns:eu-west-1:111122223333:billing-alarms"
STRANGER = "arn:aws:sns:eu-west-1:999988887777:free-alarms"


@pytest.fixture
def bot(request, tmp_path, db_url, moto_url, aws, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    extra = getattr(request, "param", {})
    with (
        fake_slack() as slack,
        responses.RequestsMock(assert_all_requests_are_fired=False) as aws_sns,
    ):
        aws_sns.get(CERT_URL, body=PEM)
        aws_sns.get(cert_url("eu-west-1"), body=PEM)
        aws_sns.add_passthru("http://127.0.0.1")
        settings = Settings(
            _env_file=None,
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET="s",
            SLACK_API_URL=slack.url + "/api/",
            LLM_INCIDENT_DATA_DIR=tmp_path,
            DATABASE_URL=db_url,
            LLM_INCIDENT_DEFAULT_CHANNEL="#incidents",
            AWS_ENDPOINT_URL=moto_url,
            LLM_INCIDENT_ALLOWED_ACCOUNTS="111122223333",
            **extra,
        )
        with serving(settings) as (url, ctx):
            yield url, slack, ctx, aws_sns


def send(url: str, message: dict) -> tuple[int, bytes]:
    return post(f"{url}/aws/sns", json.dumps(message).encode(), {"Content-Type": "text/plain"})


def alarm_from(topic: str, message_id: str) -> dict:
    """An alarm notification from `topic`, signed as SNS signs it, sent now."""
    return signed(
        notification(topic, cloudwatch_message(ALARM), message_id), url=cert_url("eu-west-1")
    )


def metrics(url: str) -> str:
    with urllib.request.urlopen(f"{url}/metrics") as response:
        return response.read().decode()


def test_a_strangers_signed_alarm_is_refused_and_opens_nothing(bot, caplog):
    url, slack, ctx, _ = bot
    with caplog.at_level(logging.WARNING):
        status, body = send(url, alarm_from(STRANGER, "m-stranger"))
    assert status == 403 and b"999988887777" in body
    assert ctx.runtime.store.incidents.list_open() == []
    assert slack.methods("chat.postMessage") == []
    assert any("refused /aws/sns delivery (topic)" in r.getMessage() for r in caplog.records)
    assert 'llm_incident_sns_refused_total{reason="topic"} 1.0' in metrics(url)
    [sender] = ctx.runtime.store.sources.refused()
    assert (sender.topic_arn, sender.refused, sender.taken) == (STRANGER, 1, 0)

    status, body = send(url, alarm_from(OURS, "m-ours"))  # the same alarm from our topic
    assert (status, body) == (200, b"opened")


def test_a_strangers_subscription_is_not_confirmed_and_is_logged(bot, caplog):
    url, _, _, aws_sns = bot
    confirm_ours = aws_sns.get("https://sns.eu-west-1.amazonaws.com/", body="<ok/>")
    stranger = signed(subscription_confirmation(STRANGER), url=cert_url("eu-west-1"))
    with caplog.at_level(logging.WARNING):
        status, body = send(url, stranger)
    assert status == 403 and f"subscription to {STRANGER} not confirmed".encode() in body
    assert confirm_ours.call_count == 0, "SubscribeURL was never visited"
    assert any(STRANGER in r.getMessage() for r in caplog.records)

    ours = signed(subscription_confirmation(OURS), url=cert_url("eu-west-1"))
    assert send(url, ours) == (200, b"subscribed")
    assert confirm_ours.call_count == 1


@pytest.mark.parametrize("bot", [{"LLM_INCIDENT_ALLOWED_TOPICS": OURS}], indirect=True)
def test_allowed_topics_narrow_the_allowed_accounts(bot):
    url, *_ = bot
    assert send(url, alarm_from(OTHER_OF_OURS, "m-billing"))[0] == 403
    assert (
        send(url, signed(subscription_confirmation(OTHER_OF_OURS), url=cert_url("eu-west-1")))[0]
        == 403
    )
    assert send(url, alarm_from(OURS, "m-genai")) == (200, b"opened")


def test_a_replayed_message_is_dropped_and_counted(bot):
    url, _, ctx, _ = bot
    message = alarm_from(OURS, "m-1")
    assert send(url, message) == (200, b"opened")
    assert send(url, message) == (200, b"duplicate")
    assert send(url, message) == (200, b"duplicate")
    assert len(ctx.runtime.store.incidents.list_open()) == 1
    shown = metrics(url)
    assert "llm_incident_sns_replayed_total 2.0" in shown
    assert 'llm_incident_alarms_total{outcome="opened"} 1.0' in shown


def test_a_stale_message_is_refused_however_well_signed(bot):
    url, _, ctx, _ = bot
    old = notification(OURS, cloudwatch_message(ALARM), "m-old")
    old["Timestamp"] = "2026-01-01T00:00:00.000Z"
    status, body = send(url, signed(old, url=cert_url("eu-west-1")))
    assert status == 400 and b"stale" in body
    ahead = {
        **notification(OURS, cloudwatch_message(ALARM), "m-ahead"),
        "Timestamp": "2099-01-01T00:00:00.000Z",
    }
    status, body = send(url, signed(ahead, url=cert_url("eu-west-1")))
    assert status == 400 and b"in the future" in body
    assert ctx.runtime.store.incidents.list_open() == []
    assert 'llm_incident_sns_refused_total{reason="stale"} 2.0' in metrics(url)


@pytest.mark.parametrize("bot", [{"LLM_INCIDENT_SNS_MAX_AGE": "60"}], indirect=True)
def test_the_age_limit_is_a_setting(bot):
    url, *_ = bot
    from datetime import UTC, datetime, timedelta

    minutes_ago = notification(OURS, cloudwatch_message(ALARM), "m-2min")
    minutes_ago["Timestamp"] = stamp(datetime.now(UTC) - timedelta(minutes=2))
    assert send(url, signed(minutes_ago, url=cert_url("eu-west-1")))[0] == 400


def test_a_notification_that_is_no_alarm_is_refused_and_counted(bot):
    url, slack, ctx, _ = bot
    hello = {**notification(OURS, {}, "m-hello"), "Message": "hello from a test publish"}
    status, body = send(url, signed(hello, url=cert_url("eu-west-1")))
    assert status == 400 and b"not a CloudWatch alarm" in body
    assert ctx.runtime.store.incidents.list_open() == [] and not slack.methods("chat.postMessage")
    assert 'llm_incident_sns_refused_total{reason="unreadable"} 1.0' in metrics(url)
