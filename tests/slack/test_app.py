"""Slack's event retries against the real Bolt app: an event is handled once, marked done
only after its listener finished; a listener that failed, or a process that died while
handling it, lets Slack's next retry handle it again, once."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import pytest
from slack_bolt import BoltRequest

from bot.config import Settings
from bot.server.runtime import build
from bot.sim.fakes.slack import fake_slack, signed_headers

SECRET = "events-secret"


@pytest.fixture
def app(tmp_path, db_url):
    """The bot's app as Lambda runs it (listeners finish before the answer), with a
    listener that fails as often as `failures` says."""
    with fake_slack() as slack:
        settings = Settings(
            _env_file=None,
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.url + "/api/",
            LLM_INCIDENT_DATA_DIR=tmp_path,
            DATABASE_URL=db_url,
        )
        ctx, bolt = build(settings, process_before_response=True, inline=True)
        handled: list[str] = []
        failures = {"left": 0}

        @bolt.event("member_joined_channel")
        def joined(event: dict) -> None:
            handled.append(event["user"])
            if failures["left"]:
                failures["left"] -= 1
                raise RuntimeError("the listener crashed")

        yield bolt, ctx, handled, failures


def delivery(event_id: str, retry: int = 0) -> BoltRequest:
    body = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T1",
            "api_app_id": "A1",
            "event_id": event_id,
            "event_time": int(time.time()),
            "event": {"type": "member_joined_channel", "user": "U1", "channel": "C1"},
        }
    )
    headers = {k.lower(): v for k, v in signed_headers(body, SECRET, "application/json").items()}
    if retry:
        headers |= {"x-slack-retry-num": str(retry), "x-slack-retry-reason": "http_timeout"}
    return BoltRequest(body=body, headers=headers)


def test_an_event_is_handled_once_and_marked_done_after(app):
    bolt, ctx, handled, _ = app
    assert bolt.dispatch(delivery("Ev1")).status == 200
    assert ctx.runtime.store.slack_events.state("Ev1") == "done"
    assert bolt.dispatch(delivery("Ev1", retry=1)).status == 200
    assert handled == ["U1"]


def test_a_listener_that_failed_is_handled_again_by_the_retry_once(app):
    bolt, ctx, handled, failures = app
    failures["left"] = 2
    assert bolt.dispatch(delivery("Ev2")).status == 500  # Slack will retry
    assert ctx.runtime.store.slack_events.state("Ev2") == "handling"
    assert bolt.dispatch(delivery("Ev2", retry=1)).status == 500
    assert bolt.dispatch(delivery("Ev2", retry=2)).status == 200  # no third attempt
    assert handled == ["U1", "U1"]


def test_an_event_being_handled_elsewhere_waits_for_its_lease(app):
    """Another process claimed the event and died: its retry is dropped while the lease
    runs, and handled once it ran out."""
    bolt, ctx, handled, _ = app
    events = ctx.runtime.store.slack_events
    assert events.claim("Ev3", "a-dead-process", timedelta(minutes=2))
    bolt.dispatch(delivery("Ev3", retry=1))
    assert handled == []
    assert events.claim("Ev4", "a-dead-process", timedelta(seconds=-1))  # the lease ran out
    bolt.dispatch(delivery("Ev4", retry=1))
    assert handled == ["U1"] and events.state("Ev4") == "done"
