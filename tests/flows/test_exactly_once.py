"""An alarm's thread under a Slack that applies posts and then answers 500, 503 or 504:
the root message, the progress message, the chart and evidence, and the analysis each
appear exactly once (measured in what the fake Slack holds, not in what was sent)."""

from __future__ import annotations

import json
from collections import Counter

import pytest
import responses

from bot.config import BUNDLED_SCENARIOS, Settings
from bot.sim.fakes.bot_server import serving
from bot.sim.fakes.slack import FakeSlack, fake_slack
from bot.sim.fakes.sns import CERT_URL, PEM, fresh, signed
from bot.sim.replay import replay
from bot.sim.scenario import load_scenario
from tests.fixtures.loopback import post, wait_for

SCENARIO = BUNDLED_SCENARIOS / "demo-model-throttling-retry-storm.yaml"


def keys(slack: FakeSlack) -> Counter[str]:
    """How often each post key appears in what Slack holds ("?": a message without one)."""
    return Counter(
        (m.get("metadata") or {}).get("event_payload", {}).get("key", "?") for m in slack.messages
    )


def kinds(slack: FakeSlack) -> Counter[str]:
    """The same, by kind of post (`root:<incident>:<opened>` is a root)."""
    return Counter(key.split(":", 1)[0] for key in keys(slack).elements())


@pytest.fixture
def settings(tmp_path, db_url, moto_url, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")

    def make(slack: FakeSlack) -> Settings:
        return Settings(
            _env_file=None,
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET="s",
            SLACK_API_URL=slack.url + "/api/",
            LLM_INCIDENT_DATA_DIR=tmp_path,
            DATABASE_URL=db_url,
            LLM_INCIDENT_DEFAULT_CHANNEL="#incidents",
            AWS_REGION="us-west-2",
            AWS_ENDPOINT_URL=moto_url,
        )

    return make


@pytest.mark.parametrize("status", [500, 503, 504])
def test_every_post_of_a_thread_appears_once(status, settings, aws):
    with (
        fake_slack() as slack,
        responses.RequestsMock(assert_all_requests_are_fired=False) as certs,
    ):
        certs.get(CERT_URL, body=PEM)
        certs.add_passthru("http://127.0.0.1")
        for _ in range(4):  # the root, the progress, the analysis: all of them, and more
            slack.fail_after("chat.postMessage", status)
        slack.fail_after("files.completeUploadExternal", status)
        with serving(settings(slack)) as (url, ctx):
            run = replay(load_scenario(SCENARIO), ctx.runtime.aws, ctx.runtime.settings)
            message = signed({k: v for k, v in fresh(run.notification).items() if k != "Subject"})
            assert post(f"{url}/aws/sns", json.dumps(message).encode(), {})[1] == b"opened"
            incident = wait_for(lambda: ctx.runtime.store.incidents.list_open())[0]
            analysis = wait_for(
                lambda: (a := ctx.runtime.store.analyses.latest(incident.id)) and a.message_ts and a
            )
    posted = keys(slack)
    assert posted[f"analysis:{analysis.id}"] == 1 and posted[f"progress:{analysis.job_id}"] == 1
    files = [m for m in slack.messages if m.get("files")]
    assert len(files) == 1 and len(files[0]["files"]) == 2, "the chart and the evidence, once"
    assert kinds(slack) == Counter({"root": 1, "progress": 1, "analysis": 1, "?": 1}), posted
    assert ("chat.postMessage", status) in slack.failed


def test_a_job_retried_after_slack_went_away_does_not_post_its_root_twice(settings, aws):
    """Slack applied the root and then failed the answer and every lookup: the job fails
    and is given back; its retry (Slack back) finds the root instead of posting it again."""
    with fake_slack() as slack, serving(settings(slack)) as (_, ctx):
        slack.fail_after("chat.postMessage", 504)
        for _ in range(4):  # the lookup and the client's three retries of it
            slack.fail("conversations.history", 503)
        run = replay(load_scenario(SCENARIO), ctx.runtime.aws, ctx.runtime.settings)
        delivery = ctx.runtime.store.incidents.request_analysis(
            run.alarm, "claims-copilot", ctx.runtime.grouping_window, None
        )
        with pytest.raises(Exception, match="outcome unknown"):
            ctx.incidents.run_job(delivery.job_id)
        assert ctx.runtime.store.jobs.get(delivery.job_id).state == "queued"
        analysis_id = ctx.incidents.run_job(delivery.job_id)
        incident_id = delivery.incident.id
    posted = keys(slack)
    assert kinds(slack)["root"] == 1 and posted[f"analysis:{analysis_id}"] == 1
    roots = [k for k in posted if k.startswith(f"root:{incident_id}:")]
    assert len(roots) == 1
