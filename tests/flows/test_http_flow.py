"""The bot as Slack and AWS see it: a running HTTP server, signed requests in, a fake
Slack Web API out, moto behind the tools."""

import json
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlencode

import pytest
import responses

from bot.cli.main import main
from bot.config import BUNDLED_SCENARIOS, Settings
from bot.models import AlarmState
from bot.sim.fakes.bot_server import serving
from bot.sim.fakes.slack import fake_slack, signed_headers
from bot.sim.fakes.sns import CERT_URL, PEM, signed, stamp
from bot.sim.payloads import sns_notification
from bot.sim.replay import replay
from bot.sim.scenario import load_scenario
from bot.store import Feedback
from tests.fixtures.loopback import post, wait_for

SECRET = "test-signing-secret"
CATALOG = Path(__file__).parents[1] / "fixtures" / "catalog.yaml"
SCENARIO = BUNDLED_SCENARIOS / "demo-model-throttling-retry-storm.yaml"


@pytest.fixture
def bot(request, tmp_path, db_url, moto_url, aws, monkeypatch):
    """The running bot; `indirect` parametrization adds settings."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    with (
        fake_slack() as slack,
        responses.RequestsMock(assert_all_requests_are_fired=False) as certs,
    ):
        certs.get(CERT_URL, body=PEM)
        certs.add_passthru("http://127.0.0.1")
        settings = Settings(
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.url + "/api/",
            LLM_INCIDENT_CATALOG=CATALOG,
            LLM_INCIDENT_DATA_DIR=tmp_path,
            DATABASE_URL=db_url,
            AWS_REGION="us-west-2",
            AWS_ENDPOINT_URL=moto_url,
            **getattr(request, "param", {}),
        )
        slack.usergroups = {"S0ONCALL": ["U1"]}
        with serving(settings) as (url, ctx):
            yield url, slack, ctx, settings


def slack_post(url: str, body: str, secret: str = SECRET, age: int = 0) -> tuple[int, bytes]:
    headers = signed_headers(body, secret, "application/x-www-form-urlencoded", age)
    return post(f"{url}/slack/events", body.encode(), headers)


def analysed_now(ctx, run) -> tuple[int, str, str]:
    """Ask for an analysis and run its job here: (analysis id, channel, thread ts)."""
    delivery = ctx.incidents.request(run.alarm, run.service, None)
    analysis = wait_for(lambda: ctx.runtime.store.analyses.for_job(delivery.job_id))
    wait_for(lambda: ctx.runtime.store.analyses.get(analysis.id).message_ts)
    channel, ts = ctx.incidents.thread_of(delivery.incident.id)
    return analysis.id, channel, ts


def test_health_and_metrics(bot):
    url, *_ = bot
    with urllib.request.urlopen(f"{url}/healthz") as response:
        assert response.read() == b"ok"
    with urllib.request.urlopen(f"{url}/metrics") as response:
        assert b"llm_incident_http_requests" in response.read()


def test_a_signed_alarm_opens_one_thread_with_an_analysis(bot, moto_url, capsys):
    url, slack, _ctx, _settings = bot
    assert main(["simulate", "--scenario", str(SCENARIO), "--endpoint-url", moto_url]) == 0
    notification = json.loads(capsys.readouterr().out)
    message = signed({k: v for k, v in notification.items() if k != "Subject"})
    status, body = post(
        f"{url}/aws/sns", json.dumps(message).encode(), {"Content-Type": "text/plain"}
    )
    assert (status, body) == (200, b"opened")
    assert post(f"{url}/aws/sns", json.dumps(message).encode(), {})[1] == b"duplicate"

    roots = wait_for(lambda: slack.methods("chat.postMessage"))
    assert roots[0]["channel"] == "#claims-ai-oncall"
    assert "claims-copilot-api-p95-latency" in json.dumps(roots[0]["blocks"])

    def analysis():
        return [
            m
            for m in slack.methods("chat.postMessage")
            if "feedback_up" in json.dumps(m.get("blocks"))
        ]

    [posted] = wait_for(analysis)
    text = json.dumps(posted["blocks"])
    assert posted["thread_ts"] == slack.messages[0]["ts"], "in the root's thread"
    assert "Model throttling" in text and "InvocationThrottles" in text
    assert slack.methods("chat.update"), "progress is edited in place"
    chart, evidence = slack.uploads()
    assert chart.startswith(b"\x89PNG"), "the chart is uploaded as a PNG"
    assert b"InvocationThrottles" in evidence, "with the full evidence as a text file"
    [complete] = slack.methods("files.completeUploadExternal")
    assert complete["channel_id"] == "C0INCIDENT", "both in one message"
    assert [f["title"] for f in json.loads(complete["files"])] == [
        "AnswerLatency around the alarm",
        "Full evidence",
    ]
    assert len([m for m in slack.methods("chat.postMessage") if "thread_ts" not in m]) == 1


def test_forged_sns_is_rejected(bot):
    url, *_ = bot
    message = signed(
        {
            "Type": "Notification",
            "MessageId": "x",
            "Message": "{}",
            "Timestamp": "t",
            "TopicArn": "a",
        }
    )
    message["Message"] = '{"AlarmName": "forged"}'
    status, body = post(f"{url}/aws/sns", json.dumps(message).encode(), {})
    assert status == 400 and b"signature does not match" in body


def command(text: str) -> str:
    return urlencode(
        {
            "command": "/llm-incident",
            "text": text,
            "user_id": "U1",
            "channel_id": "C1",
            "response_url": "http://127.0.0.1:9/unused",
            "trigger_id": "t",
            "team_id": "T1",
        }
    )


def test_slash_command_help_and_usage_are_acked_at_once(bot):
    url, *_ = bot
    status, body = slack_post(url, command("help"))
    assert status == 200 and b"analyze" in body
    status, body = slack_post(url, command("frobnicate"))
    answer = json.loads(body)
    assert answer["response_type"] == "ephemeral" and answer["text"].startswith("Usage:")


def test_unsigned_or_stale_requests_get_401(bot):
    url, *_ = bot
    assert slack_post(url, command("help"), secret="wrong")[0] == 401
    assert slack_post(url, command("help"), age=600)[0] == 401


def test_feedback_button_is_one_vote_per_user_and_shows_the_tally(bot):
    url, slack, ctx, settings = bot
    run = replay(load_scenario(SCENARIO), ctx.runtime.aws, settings)
    analysis_id, channel, _ts = analysed_now(ctx, run)

    def click(action: str, user: str) -> int:
        payload = {
            "type": "block_actions",
            "user": {"id": user},
            "team": {"id": "T1"},
            "channel": {"id": channel},
            "message": {"ts": "1"},
            "trigger_id": "trig",
            "actions": [
                {
                    "action_id": action,
                    "value": str(analysis_id),
                    "type": "button",
                    "block_id": "feedback",
                }
            ],
        }
        return slack_post(url, urlencode({"payload": json.dumps(payload)}))[0]

    assert click("feedback_up", "U1") == 200
    assert click("feedback_up", "U1") == 200
    assert click("feedback_down", "U2") == 200
    wait_for(lambda: ctx.runtime.store.feedback.tally(analysis_id) == (1, 1))
    wait_for(lambda: slack.methods("views.open"))
    assert "feedback_modal" in json.dumps(slack.methods("views.open")[0])
    assert click("feedback_down", "U1") == 200  # a second click changes the vote
    wait_for(lambda: ctx.runtime.store.feedback.tally(analysis_id) == (0, 2))
    wait_for(
        lambda: any(
            "Not right (2)" in json.dumps(u.get("blocks")) for u in slack.methods("chat.update")
        )
    )


def wait_response(slack, seconds: float = 30):
    return wait_for(lambda: slack.methods("respond"), seconds)


def command_to(slack, text: str) -> str:
    return urlencode(
        {
            "command": "/llm-incident",
            "text": text,
            "user_id": "U1",
            "channel_id": "C1",
            "response_url": f"{slack.url}/respond",
            "trigger_id": "t",
            "team_id": "T1",
        }
    )


def test_analyze_opens_a_thread_and_links_to_it(bot):
    url, slack, ctx, settings = bot
    replay(load_scenario(SCENARIO), ctx.runtime.aws, settings)
    status, body = slack_post(url, command_to(slack, "analyze claims-copilot is it the model?"))
    assert status == 200 and b"Working on" in body
    [answer] = wait_response(slack)
    assert answer["response_type"] == "in_channel"
    assert (
        "claims-copilot-api-p95-latency" in answer["text"]
        and "https://slack.example/" in answer["text"]
    )
    wait_for(
        lambda: [
            m
            for m in slack.methods("chat.postMessage")
            if "feedback_up" in json.dumps(m.get("blocks"))
        ]
    )


def test_status_and_runbooks_answer_the_caller_only(bot):
    url, slack, _ctx, _ = bot
    slack_post(url, command_to(slack, "runbooks AccessDeniedException"))
    [answer] = wait_response(slack)
    assert answer["response_type"] == "ephemeral" and answer["text"].startswith("• `access-denied`")
    slack.calls.clear()
    slack_post(url, command_to(slack, "status"))
    [answer] = wait_response(slack)
    assert answer["response_type"] == "ephemeral" and "Open incidents" in answer["text"]


def test_ok_alarm_resolves_the_incident_in_its_thread(bot):
    url, slack, ctx, settings = bot
    run = replay(load_scenario(SCENARIO), ctx.runtime.aws, settings)
    first = signed({k: v for k, v in run.notification.items() if k != "Subject"})
    post(f"{url}/aws/sns", json.dumps(first).encode(), {})
    ok_alarm = run.alarm.model_copy(
        update={"state": AlarmState.OK, "previous_state": AlarmState.ALARM, "reason": "back below"}
    )
    resolved = signed(
        {k: v for k, v in sns_notification(ok_alarm, "m-ok").items() if k != "Subject"}
    )
    wait_for(lambda: ctx.runtime.store.incidents.list_open()[0].root_ts)
    assert post(f"{url}/aws/sns", json.dumps(resolved).encode(), {})[1] == b"resolved"
    notes = wait_for(
        lambda: [m for m in slack.methods("chat.postMessage") if "Resolved" in m.get("text", "")]
    )
    assert notes[0]["thread_ts"] == slack.messages[0]["ts"], "in the incident's thread"
    wait_for(lambda: any("RESOLVED" in m.get("text", "") for m in slack.methods("chat.update")))
    assert ctx.runtime.store.incidents.list_open() == []


def test_mention_in_a_thread_answers_from_its_evidence(bot):
    url, slack, ctx, settings = bot
    run = replay(load_scenario(SCENARIO), ctx.runtime.aws, settings)
    _, channel, ts = analysed_now(ctx, run)
    event = {
        "type": "event_callback",
        "event_id": "Ev1",
        "team_id": "T1",
        "api_app_id": "A1",
        "event": {
            "type": "app_mention",
            "user": "U1",
            "text": "<@UBOT> what about ThrottlingException?",
            "channel": channel,
            "ts": "1700000009.000001",
            "thread_ts": ts,
        },
    }
    body = json.dumps(event)
    headers = signed_headers(body, SECRET, "application/json")
    assert post(f"{url}/slack/events", body.encode(), headers)[0] == 200
    assert (
        post(f"{url}/slack/events", body.encode(), {**headers, "X-Slack-Retry-Num": "1"})[0] == 200
    )

    def answers():
        return [
            m
            for m in slack.methods("chat.postMessage")
            if "No LLM is configured" in m.get("text", "")
        ]

    [answer] = wait_for(answers)
    time.sleep(0.5)
    assert len(answers()) == 1, "a retried event is answered once"
    assert answer["thread_ts"] == ts and "ThrottlingException" in answer["text"]


def signed_json(url: str, payload: dict) -> int:
    body = json.dumps(payload)
    headers = signed_headers(body, SECRET, "application/json")
    return post(f"{url}/slack/events", body.encode(), headers)[0]


def analysed(ctx, settings):
    run = replay(load_scenario(SCENARIO), ctx.runtime.aws, settings)
    analysis_id, channel, _ts = analysed_now(ctx, run)
    return analysis_id, channel


def test_reactions_vote_and_the_modal_records_the_real_cause(bot):
    url, _slack, ctx, settings = bot
    analysis_id, channel = analysed(ctx, settings)
    message_ts = ctx.runtime.store.analyses.get(analysis_id).message_ts
    reaction = {
        "type": "event_callback",
        "event_id": "EvR1",
        "team_id": "T1",
        "api_app_id": "A1",
        "event": {
            "type": "reaction_added",
            "user": "U7",
            "reaction": "-1",
            "item": {"type": "message", "channel": channel, "ts": message_ts},
        },
    }
    assert signed_json(url, reaction) == 200
    wait_for(lambda: ctx.runtime.store.feedback.tally(analysis_id) == (0, 1))
    submission = {
        "type": "view_submission",
        "user": {"id": "U7"},
        "team": {"id": "T1"},
        "view": {
            "id": "V1",
            "type": "modal",
            "callback_id": "feedback_modal",
            "private_metadata": f"{analysis_id}|{channel}|{message_ts}",
            "state": {
                "values": {
                    "wrong": {
                        "value": {"type": "plain_text_input", "value": "it was the quota change"}
                    },
                    "category": {
                        "value": {
                            "type": "static_select",
                            "selected_option": {"value": "model_throttling"},
                        }
                    },
                    "comment": {"value": {"type": "plain_text_input", "value": None}},
                }
            },
        },
    }
    assert slack_post(url, urlencode({"payload": json.dumps(submission)}))[0] == 200

    def recorded():
        # The modal is acknowledged first and stored after the ack: wait for the write.
        with ctx.runtime.store.session() as session:
            row = session.query(Feedback).filter_by(analysis_id=analysis_id, user_id="U7").one()
            return (row.vote, row.real_category, row.wrong) if row.real_category else None

    assert wait_for(recorded, 10) == (-1, "model_throttling", "it was the quota change")
    # The one who corrected it is told how confidences like this one have fared.
    [note] = wait_for(lambda: _slack.methods("chat.postEphemeral"), 10)
    shown = ctx.runtime.store.analyses.get(analysis_id).confidence
    assert note["user"] == "U7" and note["channel"] == channel
    assert "the real cause was Model throttling" in note["text"]
    assert f"at {shown:.0%} confidence" in note["text"]
    assert "were right" in note["text"] and "labelled votes" in note["text"]


def test_app_home_lists_open_incidents_and_the_tally(bot):
    url, slack, ctx, settings = bot
    analysed(ctx, settings)
    event = {
        "type": "event_callback",
        "event_id": "EvH1",
        "team_id": "T1",
        "api_app_id": "A1",
        "event": {"type": "app_home_opened", "user": "U1", "tab": "home"},
    }
    assert signed_json(url, event) == 200
    [published] = wait_for(lambda: slack.methods("views.publish"))
    view = json.dumps(published)
    assert "claims-copilot" in view and "Feedback, last 7 days" in view


def test_sns_subscription_is_confirmed_and_other_types_rejected(bot):
    url, *_ = bot
    confirmation = signed(
        {
            "Type": "SubscriptionConfirmation",
            "MessageId": "s-1",
            "Token": "tok",
            "TopicArn": "arn:aws:sns:us-east-1:1:alarms",
            "Message": "confirm",
            "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&Token=tok",
            "Timestamp": stamp(),  # sent now: a stale one is refused
        }
    )
    with responses.RequestsMock(assert_all_requests_are_fired=True) as aws_sns:
        aws_sns.get(CERT_URL, body=PEM)
        aws_sns.add_passthru("http://127.0.0.1")
        aws_sns.get("https://sns.us-east-1.amazonaws.com/", body="<ConfirmSubscriptionResponse/>")
        assert post(f"{url}/aws/sns", json.dumps(confirmation).encode(), {}) == (200, b"subscribed")
    assert post(f"{url}/aws/sns", b'{"Type": "Gossip"}', {})[0] == 400
    assert post(f"{url}/aws/sns", b"x" * (300 * 1024), {})[0] == 413


@pytest.mark.parametrize(
    "bot",
    [
        {
            "LLM_INCIDENT_ALLOWED_CHANNELS": "incidents,C9",
            "LLM_INCIDENT_ALLOWED_USERGROUPS": "S0ONCALL",
        }
    ],
    indirect=True,
)
def test_the_command_is_limited_to_configured_channels_and_usergroups(bot):
    url, slack, *_ = bot

    def run(user: str, channel: str) -> dict:
        body = urlencode(
            {
                "command": "/llm-incident",
                "text": "status",
                "user_id": user,
                "channel_id": channel,
                "channel_name": "random",
                "response_url": f"{slack.url}/respond",
                "trigger_id": "t",
                "team_id": "T1",
            }
        )
        status, answer = slack_post(url, body)
        assert status == 200
        return json.loads(answer)

    assert "not enabled in this channel" in run("U1", "C1")["text"]
    assert "limited to the on-call user groups" in run("U2", "C9")["text"]
    assert run("U1", "C9")["text"].startswith("Working on")
    [answer] = wait_response(slack)
    assert "Open incidents" in answer["text"], "only the allowed call did any work"
