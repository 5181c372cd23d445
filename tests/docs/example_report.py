"""Write docs/example-incident-report.md (and its chart) from a demo incident.

    .venv/bin/python -m tests.docs.example_report

The bundled throttling scenario is replayed into the emulator and its alarm received by
the real bot (fake Slack Web API, SQLite); the bot opens the thread and posts its
analysis as it always does. Then people act in the thread as an on-call team would: they
reply, react, vote 👍, say what fixed it, add follow-ups; the alarm returns to OK. Those
human steps are staged: each is placed minutes apart on the incident's clock (the Slack
timestamps, and the stored times of the votes, the note and the resolution), so that the
timeline reads like a real incident rather than a twenty-second script. The report is
then made by `bot.slack.report.make_report`, exactly as `/llm-incident report` makes it.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlencode

from sqlalchemy import update

from bot.config import BUNDLED_SCENARIOS, Settings
from bot.ingest.alarms import parse_alarm_payload
from bot.models import AlarmState
from bot.sim.emulator import emulator_session, running_emulator
from bot.sim.fakes.bot_server import serving
from bot.sim.fakes.slack import fake_slack, signed_headers
from bot.sim.payloads import sns_notification
from bot.sim.replay import replay
from bot.sim.scenario import load_scenario
from bot.slack.report import make_report
from bot.store.schema import upgrade
from bot.store.tables import AlarmEvent, Feedback, Incident, ResolutionNote
from tests.fixtures.loopback import post, wait_for
from tests.fixtures.slack_payloads import app_mention, button_click
from tools.aws import AwsClients

ROOT = Path(__file__).resolve().parents[2]
OUT = ROOT / "docs" / "example-incident-report.md"
CHART = ROOT / "docs" / "example-incident-report-chart.png"
SECRET = "example-signing-secret"
ONCALL, TEAMMATE = "U04ONCALL", "U07PLATFORM"


class StoryClock:
    """Epoch seconds the fake Slack stamps messages with: the real time until the story
    begins, then the minute of the incident each step is staged at."""

    def __init__(self) -> None:
        self.at: datetime | None = None

    def __call__(self) -> float:
        return self.at.timestamp() if self.at else time.time()


def _interact(url: str, payload: dict) -> None:
    body = urlencode({"payload": json.dumps(payload)})
    headers = signed_headers(body, SECRET, "application/x-www-form-urlencoded")
    post(f"{url}/slack/events", body.encode(), headers)


def _vote(url: str, analysis_id: int, channel: str, user: str) -> None:
    _interact(url, button_click(analysis_id, channel, user, "feedback_up"))


def _mention(url: str, channel: str, thread_ts: str, user: str, text: str) -> None:
    event = app_mention(
        channel, thread_ts, user, text, f"Ev{time.monotonic_ns()}", f"{time.time():.6f}"
    )
    body = json.dumps(event)
    post(f"{url}/slack/events", body.encode(), signed_headers(body, SECRET, "application/json"))


def write_example() -> Path:
    # The emulator takes any key; never let a real profile be picked up.
    os.environ.update(AWS_ACCESS_KEY_ID="example", AWS_SECRET_ACCESS_KEY="example")
    os.environ.pop("AWS_PROFILE", None)
    clock = StoryClock()
    scenario = load_scenario(BUNDLED_SCENARIOS / "demo-model-throttling-retry-storm.yaml")
    with (
        running_emulator() as moto,
        fake_slack(clock) as slack,
        tempfile.TemporaryDirectory() as folder,
    ):
        settings = Settings(
            SLACK_BOT_TOKEN="xoxb-example",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.url + "/api/",
            LLM_INCIDENT_CATALOG=ROOT / "tests" / "fixtures" / "catalog.yaml",
            LLM_INCIDENT_DATA_DIR=Path(folder),
            AWS_REGION=scenario.region,
            AWS_ENDPOINT_URL=moto,
            DATABASE_URL=f"sqlite:///{folder}/example.db",
        )
        upgrade(settings.database_url or "")
        with serving(settings) as (url, ctx):
            aws = AwsClients(scenario.region, moto, emulator_session(scenario.region))
            run = replay(scenario, aws, settings)
            ctx.incidents.receive(parse_alarm_payload(json.dumps(run.notification)))
            store = ctx.runtime.store
            [incident] = wait_for(store.incidents.list_open)
            analysis = wait_for(lambda: store.analyses.latest(incident.id))
            wait_for(lambda: store.analyses.get(analysis.id).message_ts)
            incident = store.incidents.get(incident.id)
            channel, ts, t0 = incident.channel, incident.root_ts, run.alarm.changed_at

            def at(minutes: int) -> datetime:
                clock.at = t0 + timedelta(minutes=minutes)
                return clock.at

            at(7)
            stored = store.analyses.get(analysis.id).investigation
            onset = str(stored["onset"])[11:16]
            first = slack.say(
                ts, ONCALL, f"On it. p95 is ~3x normal; Bedrock throttles since about {onset} UTC."
            )
            slack.react(first, "eyes", TEAMMATE)
            at(9)
            slack.say(
                ts,
                TEAMMATE,
                "The partner batch re-ran its backfill just before that, with aggressive "
                "retries: that matches the throttling storm.",
            )
            voted = at(10)
            _vote(url, analysis.id, channel, ONCALL)
            wait_for(lambda: store.feedback.tally(analysis.id) == (1, 0))
            fixed = at(14)
            _mention(
                url,
                channel,
                ts,
                ONCALL,
                "fixed: paused the partner batch job and set its SDK retries to standard mode "
                "with backoff; latency back under threshold within 5 minutes",
            )
            wait_for(lambda: store.memory.resolutions(incident.id))
            at(16)
            slack.say(
                ts,
                TEAMMATE,
                "todo: give the partner batch its own rate limit (requests per minute)",
            )
            slack.say(
                ts, ONCALL, "follow-up: alarm on InvocationThrottles, before the latency alarm"
            )
            resolved = at(22)
            ok = run.alarm.model_copy(
                update={
                    "state": AlarmState.OK,
                    "previous_state": AlarmState.ALARM,
                    "reason": "Threshold Crossed: 3 datapoints were not greater than the "
                    "threshold (9000.0).",
                    "changed_at": resolved,
                }
            )
            ctx.incidents.receive(parse_alarm_payload(json.dumps(sns_notification(ok, "ok-1"))))
            wait_for(lambda: store.incidents.get(incident.id).status == "resolved")
            second_vote = at(23)
            _vote(url, analysis.id, channel, TEAMMATE)
            wait_for(lambda: store.feedback.tally(analysis.id) == (2, 0))
            with store.session() as session:  # the stored times of the staged steps
                for user, when in ((ONCALL, voted), (TEAMMATE, second_vote)):
                    session.execute(
                        update(Feedback)
                        .where(Feedback.analysis_id == analysis.id, Feedback.user_id == user)
                        .values(updated_at=when)
                    )
                session.execute(
                    update(ResolutionNote)
                    .where(ResolutionNote.incident_id == incident.id)
                    .values(created_at=fixed)
                )
                session.execute(
                    update(Incident).where(Incident.id == incident.id).values(resolved_at=resolved)
                )
                session.execute(
                    update(AlarmEvent)
                    .where(AlarmEvent.incident_id == incident.id, AlarmEvent.state == "OK")
                    .values(received_at=resolved)
                )
            report = make_report(store, incident.id, client=ctx.poster.client, aws=aws, now=at(30))
    assert report is not None
    text = report.markdown.replace(report.chart_name, CHART.name)
    OUT.write_text(text, encoding="utf-8")
    if report.chart_png:
        CHART.write_bytes(report.chart_png)
    return OUT


if __name__ == "__main__":
    print(f"wrote {write_example().relative_to(ROOT)}")
