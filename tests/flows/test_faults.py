"""Faults injected over the real protocols: AWS throttling, Slack 429 and 5xx, an LLM
that stalls, a database that is away for a while. Each ends in a posted analysis or a
redelivered alarm, never a lost one."""

import json
import sqlite3
import threading
import time
from datetime import timedelta

import pytest
import responses
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from bot.agent.loop import build_agent
from bot.config import BUNDLED_RUNBOOKS, BUNDLED_SCENARIOS, Settings
from bot.engine.catalog import Catalog
from bot.engine.investigate import investigate
from bot.engine.runbooks import load_runbooks
from bot.incidents.flow import Incidents, Runtime
from bot.ingest.sns import CertificateCache
from bot.models import Category
from bot.server.web import WebApp, make_server
from bot.sim.emulator import emulator_session
from bot.sim.fakes.anthropic import Reply, fake_anthropic, text
from bot.sim.fakes.http import latency_proxy, serve
from bot.sim.fakes.slack import fake_slack
from bot.sim.fakes.sns import CERT_URL, PEM, fresh, signed
from bot.sim.payloads import sns_notification
from bot.sim.replay import replay
from bot.sim.scenario import load_scenario
from bot.slack.threads import Poster, SlackThread, web_client
from bot.store import Store
from bot.store.tables import AlarmEvent
from tests.factories import ALARM
from tests.fixtures.database import TEST_DATABASE_URL
from tests.fixtures.executors import Recorded
from tests.fixtures.loopback import post
from tests.fixtures.tcp import outage_proxy
from tools.aws import AwsClients

SCENARIO = BUNDLED_SCENARIOS / "demo-model-throttling-retry-storm.yaml"
RUNBOOKS = load_runbooks(BUNDLED_RUNBOOKS)


def throttling_proxy(target: str, throttled: list[str]):
    """CloudWatch Logs that throttles the first attempt of every distinct request."""
    forward = latency_proxy(target, 0.0)
    seen: set[bytes] = set()
    lock = threading.Lock()

    def handle(path, headers, body):
        operation = headers.get("X-Amz-Target", "")
        if operation.startswith("Logs_"):
            with lock:
                first = body not in seen
                seen.add(body)
            if first:
                throttled.append(operation)
                error = {"__type": "ThrottlingException", "message": "Rate exceeded"}
                return (
                    400,
                    {"Content-Type": "application/x-amz-json-1.1"},
                    json.dumps(error).encode(),
                )
        return forward(path, headers, body)

    return handle


def test_a_throttling_aws_api_is_retried_and_the_evidence_is_whole(aws, moto_url, settings):
    scenario = load_scenario(SCENARIO)
    direct = AwsClients(scenario.region, moto_url, emulator_session(scenario.region))
    run = replay(scenario, direct, settings)
    expected, _ = investigate(direct, run.alarm, run.service, RUNBOOKS, now=run.telemetry.end)
    throttled: list[str] = []
    with serve(throttling_proxy(moto_url, throttled)) as url:
        slow = AwsClients(scenario.region, url, emulator_session(scenario.region))
        found, bundle = investigate(slow, run.alarm, run.service, RUNBOOKS, now=run.telemetry.end)
    assert any("FilterLogEvents" in op for op in throttled)
    assert "logs" not in bundle.missing
    assert found.top.category is Category.MODEL_THROTTLING
    assert found.top.evidence == expected.top.evidence, "nothing was lost to the throttling"


def test_slack_429_and_503_are_waited_out_and_the_message_posted_once():
    with fake_slack() as slack:
        slack.fail("chat.postMessage", 429, {"Retry-After": "1"})
        slack.fail("chat.postMessage", 503)
        poster = Poster(web_client("xoxb-test", slack.url + "/api/"))
        began = time.monotonic()
        _, ts = poster.post("#incidents", "root")
        waited = time.monotonic() - began
    assert [status for _, status in slack.failed] == [429, 503]
    assert len(slack.methods("chat.postMessage")) == 1 and ts
    assert waited >= 1.0, "Retry-After was honoured"


def test_an_llm_that_stalls_past_its_timeout_leaves_the_triage(aws, settings):
    scenario = load_scenario(SCENARIO)
    run = replay(scenario, aws, settings)
    triage, bundle = investigate(run.aws, run.alarm, run.service, RUNBOOKS, now=run.telemetry.end)
    with fake_anthropic(Reply([text("late")], delay_s=5)) as fake:
        agent = build_agent(
            Settings(
                _env_file=None,
                ANTHROPIC_API_KEY="sk-ant-test",
                ANTHROPIC_BASE_URL=fake.url,
                LLM_REQUEST_TIMEOUT_SECONDS=1,
                LLM_MAX_RETRIES=0,
            )
        )
        began = time.monotonic()
        result = agent.analyze(triage, bundle, RUNBOOKS, run.aws)
    assert time.monotonic() - began < 4
    assert result.source == "triage" and "Timeout" in result.fallback_reason
    assert result.top == triage.top


@pytest.mark.skipif(bool(TEST_DATABASE_URL), reason="locks a SQLite file")
@pytest.mark.parametrize(("locked_s", "first_answer"), [(1.0, 200), (3.5, 500)])
def test_a_database_away_during_a_run_loses_no_alarm(db_url, aws, locked_s, first_answer):
    """Locked for less than the store's retry window: the delivery waits and is stored.
    Locked for longer: it is refused with a 500, so SNS delivers it again, and the
    redelivery is stored once."""
    store = Store(db_url, retry_s=2.0)
    runtime = Runtime(
        settings=Settings(_env_file=None, LLM_INCIDENT_DEFAULT_CHANNEL="#incidents"),
        store=store,
        catalog=Catalog(),
        runbooks=[],
        aws=aws,
        thread=SlackThread(Poster(web_client("xoxb-test", "http://127.0.0.1:9/api/"))),
        executor=Recorded(),
        notes=Recorded(),
    )
    notice = fresh(sns_notification(ALARM, "m-1"))  # delivered now (stale ones are refused)
    message = json.dumps(signed({k: v for k, v in notice.items() if k != "Subject"})).encode()
    holder = sqlite3.connect(db_url.removeprefix("sqlite:///"), check_same_thread=False)
    holder.execute("BEGIN EXCLUSIVE")
    threading.Timer(locked_s, holder.rollback).start()
    server = make_server(WebApp(None, Incidents(runtime), CertificateCache()), "127.0.0.1", 0)
    threading.Thread(target=server.run, daemon=True).start()
    url = f"http://127.0.0.1:{server.effective_port}/aws/sns"
    try:
        with responses.RequestsMock(assert_all_requests_are_fired=False) as certs:
            certs.get(CERT_URL, body=PEM)
            certs.add_passthru("http://127.0.0.1")
            status, body = post(url, message, {})
            assert status == first_answer
            if status == 500:
                time.sleep(locked_s)
                status, body = post(url, message, {})  # SNS retries a delivery that got a 5xx
            assert (status, body) == (200, b"opened")
    finally:
        server.close()
    assert len(store.incidents.list_open()) == 1
    assert len(runtime.notes.submitted) == 1, "one thread (and its analysis) is owed"


@pytest.mark.skipif(not TEST_DATABASE_URL, reason="needs a PostgreSQL server")
def test_postgresql_going_away_mid_run_loses_no_alarm(db_url):
    """Every connection cut: a write waits for the database to come back within the
    store's retry window; past it, the error reaches the caller (a 500 to SNS, which
    delivers again) and nothing half-written remains."""
    url = make_url(db_url)
    with outage_proxy(url.host or "127.0.0.1", url.port or 5432) as proxy:
        store = Store(url.set(port=proxy.port).render_as_string(hide_password=False), 3.0)
        first = store.incidents.record_alarm("1", ALARM, "svc", timedelta(minutes=30))
        proxy.down()
        threading.Timer(1.0, proxy.restore).start()
        began = time.monotonic()
        second = store.incidents.record_alarm("2", ALARM, "svc", timedelta(minutes=30))
        assert time.monotonic() - began >= 0.9, "it waited for the database"
        proxy.down()
        with pytest.raises(OperationalError):
            store.incidents.record_alarm("3", ALARM, "svc", timedelta(minutes=30))
        proxy.restore()
        third = store.incidents.record_alarm(
            "3", ALARM, "svc", timedelta(minutes=30)
        )  # redelivered
        assert (first.outcome, second.outcome, third.outcome) == ("opened", "grouped", "grouped")
        assert store.incidents.firing_alarms(first.incident.id) == [ALARM.name]
        with store.session() as session:
            assert session.query(AlarmEvent).count() == 3
