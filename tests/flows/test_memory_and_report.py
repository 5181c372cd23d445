"""The bot remembers: a recurrence shows "Seen before" with the confirmed cause, what fixed
it and a link to the old thread; and an incident's report is written from the store and
the thread (`conversations.replies` of the fake Slack Web API), posted as a file."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from bot.cli.main import main
from bot.sim.replay import replay
from bot.sim.scenario import load_scenario
from tests.fixtures.loopback import wait_for
from tests.fixtures.slack_payloads import app_mention, button_click
from tests.flows.test_http_flow import (
    SCENARIO,
    analysed_now,
    bot,  # noqa: F401 - the running bot, a fixture
    command_to,
    signed_json,
    slack_post,
    wait_response,
)
from tests.incidents.test_report import SECTIONS


def _click(url: str, analysis_id: int, channel: str, user: str, action: str) -> None:
    payload = button_click(analysis_id, channel, user, action)
    assert slack_post(url, urlencode({"payload": json.dumps(payload)}))[0] == 200


def _mention(url: str, channel: str, thread_ts: str, text: str, event_id: str) -> None:
    ts = f"1700000100.{len(event_id):06d}"
    assert signed_json(url, app_mention(channel, thread_ts, "U2", text, event_id, ts)) == 200


def _first_incident(url, slack, ctx, settings):
    """An analysed incident, confirmed with 👍, with what fixed it said in its thread."""
    run = replay(load_scenario(SCENARIO), ctx.runtime.aws, settings)
    analysis_id, channel, ts = analysed_now(ctx, run)
    _click(url, analysis_id, channel, "U1", "feedback_up")
    wait_for(lambda: ctx.runtime.store.feedback.tally(analysis_id) == (1, 0))
    _mention(url, channel, ts, "fixed: raised the Sonnet on-demand quota to 400k TPM", "EvF1")
    incident = ctx.runtime.store.analyses.get(analysis_id).incident_id
    wait_for(lambda: ctx.runtime.store.memory.resolutions(incident))
    return run, incident, analysis_id, channel, ts


def test_a_recurrence_shows_seen_before_with_the_confirmed_cause_and_the_fix(bot):  # noqa: F811
    url, slack, ctx, settings = bot
    run, first, _, _, first_ts = _first_incident(url, slack, ctx, settings)
    wait_for(
        lambda: any(
            "Noted what fixed it" in m.get("text", "") for m in slack.methods("chat.postMessage")
        )
    )
    ctx.runtime.store.incidents.update(first, status="resolved")
    analysis_id, _, ts = analysed_now(ctx, run)  # the same failure, a new incident
    assert ts != first_ts
    posted = next(
        m
        for m in slack.methods("chat.postMessage")
        if "feedback_up" in json.dumps(m.get("blocks")) and m.get("thread_ts") == ts
    )
    blocks = json.dumps(posted["blocks"], ensure_ascii=False)
    assert "*Seen before* (1 similar incident of this service)" in blocks
    assert "confirmed 👍 *Model throttling*" in blocks
    assert "fixed by: raised the Sonnet on-demand quota to 400k TPM" in blocks
    link = "https://slack.example/archives/C0INCIDENT/p"
    assert f"<{link}" in blocks and "|thread>" in blocks
    stored = ctx.runtime.store.analyses.get(analysis_id).investigation
    [seen] = stored["seen_before"]
    assert seen["incident_id"] == first and seen["confirmed"] == "model_throttling"
    top = stored["hypotheses"][0]
    assert top["category"] == "model_throttling"
    assert any(line.startswith("seen before: 1 similar past incident") for line in top["evidence"])


def test_the_report_is_posted_in_the_thread_with_what_people_said(bot):  # noqa: F811
    url, slack, ctx, settings = bot
    _, incident, analysis_id, channel, ts = _first_incident(url, slack, ctx, settings)
    human = slack.say(ts, "U3", "Quota raised | watching the p95 now")
    slack.react(human, "eyes", "U1")
    slack.say(ts, "U3", "todo: alarm on InvocationThrottles before the latency alarm fires")
    ctx.runtime.store.incidents.update(incident, status="resolved")
    before = len(slack.methods("files.completeUploadExternal"))
    # Typed in the incident's channel: its latest incident (Slack does not say the thread).
    command = command_to(slack, "report").replace("channel_id=C1", f"channel_id={channel}")
    assert slack_post(url, command)[0] == 200
    response = wait_response(slack)
    assert f"report of incident #{incident} is posted in its thread" in response[-1]["text"]
    wait_for(lambda: len(slack.methods("files.completeUploadExternal")) > before)
    upload = slack.methods("files.completeUploadExternal")[-1]
    assert upload["thread_ts"] == ts
    titles = [f["title"] for f in json.loads(upload["files"])]
    assert titles[0] == "Incident report"
    report = next(b for b in slack.uploads() if b.startswith(b"# Incident report")).decode()
    for section in SECTIONS:
        assert section in report
    assert "Root cause: **Model throttling** (confirmed by the team)" in report
    assert "| <@U3> | Quota raised \\| watching the p95 now (reactions 👀×1) |" in report
    assert "👍 on analysis #" in report and "what fixed it: raised the Sonnet" in report
    assert f"analysis #{analysis_id} (triage" in report and "**right**" in report
    assert "- [ ] alarm on InvocationThrottles before the latency alarm fires (<@U3>)" in report
    assert "| llm-incident |" in report  # the bot's own posts are in the timeline
    assert "conversations.replies" in {m for m, _ in slack.calls}
    # From another channel, by the thread's link.
    link = f"https://slack.example/archives/{channel}/p{ts.replace('.', '')}"
    assert slack_post(url, command_to(slack, f"report {link}"))[0] == 200
    wait_for(lambda: len(slack.methods("respond")) > len(response))
    assert f"incident #{incident}" in slack.methods("respond")[-1]["text"]


def test_report_by_mention_in_the_thread_and_on_the_command_line(bot, capsys, monkeypatch):  # noqa: F811
    url, slack, ctx, settings = bot
    _, incident, _, channel, ts = _first_incident(url, slack, ctx, settings)
    before = len(slack.methods("files.completeUploadExternal"))
    _mention(url, channel, ts, "report", "EvR9")
    wait_for(lambda: len(slack.methods("files.completeUploadExternal")) > before)
    assert slack.methods("files.completeUploadExternal")[-1]["thread_ts"] == ts
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_API_URL", slack.url + "/api/")
    monkeypatch.setenv("AWS_ENDPOINT_URL", settings.aws_endpoint_url)
    assert main(["report", str(incident)]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith(f"# Incident report: claims-copilot, `{run_alarm(ctx, incident)}`")
    assert "still open" in printed and "**Unconfirmed**" not in printed
    assert main(["report", "999999"]) == 1


def run_alarm(ctx, incident_id: int) -> str:
    return ctx.runtime.store.incidents.get(incident_id).alarm_name
