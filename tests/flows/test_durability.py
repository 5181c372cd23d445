"""Alarms survive the process: a server killed mid-analysis, restarted, posts the analysis
once; two servers on one database handed the same SNS message open one incident."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import responses

from bot.config import BUNDLED_SCENARIOS, Settings
from bot.sim.emulator import emulator_session
from bot.sim.fakes.bot_server import serving
from bot.sim.fakes.http import latency_proxy, serve
from bot.sim.fakes.slack import fake_slack
from bot.sim.fakes.sns import CERT_URL, PEM, signed
from bot.sim.replay import replay
from bot.sim.scenario import load_scenario
from bot.store import Analysis, Store
from tests.fixtures.loopback import post, wait_for

CATALOG = Path(__file__).parents[1] / "fixtures" / "catalog.yaml"
SCENARIO = BUNDLED_SCENARIOS / "demo-model-throttling-retry-storm.yaml"
ROOT = Path(__file__).parents[2]
SERVE_ON = ("--host", "127.0.0.1", "--port")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def analyses_posted(slack) -> list[dict]:
    return [
        m for m in slack.methods("chat.postMessage") if "feedback_up" in json.dumps(m.get("blocks"))
    ]


def start_server(env: dict[str, str], port: int, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(  # noqa: S603 - our own command line
            [sys.executable, "-m", "bot.cli.main", "-v", "serve", "--http", *SERVE_ON, str(port)],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )


def test_a_server_killed_mid_analysis_posts_it_once_after_restart(
    tmp_path, db_url, moto_url, aws, settings
):
    run = replay(load_scenario(SCENARIO), aws, settings)
    region = "us-west-2"  # the scenario's, where its telemetry was seeded
    sqs = emulator_session(region).client("sqs", endpoint_url=moto_url)
    queue = sqs.create_queue(QueueName="alarms")["QueueUrl"]
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(run.notification))
    with fake_slack() as slack, serve(latency_proxy(moto_url, 0.4)) as slow_aws:
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_SIGNING_SECRET": "secret",
            "SLACK_API_URL": slack.url + "/api/",
            "LLM_INCIDENT_CATALOG": str(CATALOG),
            "DATABASE_URL": db_url,
            "LLM_INCIDENT_SQS_QUEUE_URL": queue,
            "LLM_INCIDENT_JOB_LEASE_SECONDS": "2",
            "AWS_ENDPOINT_URL": slow_aws,
            "AWS_REGION": region,
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
        }
        port = free_port()
        log = tmp_path / "server.log"
        first = start_server(env, port, log)
        try:
            # Killed while the evidence is being gathered: progress posted, no analysis.
            wait_for(lambda: slack.methods("chat.update"), 60, log)
            first.send_signal(signal.SIGKILL)
            first.wait(10)
            assert analyses_posted(slack) == []
            second = start_server(env, port, log)
            try:
                wait_for(lambda: analyses_posted(slack), 90, log)
                time.sleep(2)  # room for a duplicate to show up, were there one
            finally:
                second.terminate()
                second.wait(10)
        finally:
            if first.poll() is None:
                first.kill()
    roots = [m for m in slack.methods("chat.postMessage") if "thread_ts" not in m]
    progress = [m for m in slack.methods("chat.postMessage") if "gathering" in m.get("text", "")]
    assert len(analyses_posted(slack)) == 1
    assert len(roots) == 1, "the restarted server reuses the thread"
    assert len(progress) == 1, "and edits the same progress message"
    with Store(db_url).session() as session:
        assert session.query(Analysis).count() == 1
    assert sqs.receive_message(QueueUrl=queue).get("Messages") is None, "the alarm was consumed"


def test_two_servers_on_one_database_open_one_incident_for_one_sns_message(
    tmp_path, db_url, moto_url, aws, monkeypatch
):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    with (
        fake_slack() as slack,
        responses.RequestsMock(assert_all_requests_are_fired=False) as certs,
        contextlib.ExitStack() as replicas,  # the servers stop before the fakes
    ):
        certs.get(CERT_URL, body=PEM)
        certs.add_passthru("http://127.0.0.1")
        settings = Settings(
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET="secret",
            SLACK_API_URL=slack.url + "/api/",
            LLM_INCIDENT_CATALOG=CATALOG,
            DATABASE_URL=db_url,
            AWS_REGION="us-west-2",
            AWS_ENDPOINT_URL=moto_url,
        )
        run = replay(load_scenario(SCENARIO), aws, settings)
        # Two servers, each with its own engine, pool and analysis workers.
        urls = [f"{replicas.enter_context(serving(settings))[0]}/aws/sns" for _ in range(2)]
        message = json.dumps(
            signed({k: v for k, v in run.notification.items() if k != "Subject"})
        ).encode()
        answers: list[bytes] = []
        barrier = threading.Barrier(2)

        def deliver(url: str) -> None:
            barrier.wait()
            answers.append(post(url, message, {})[1])

        threads = [threading.Thread(target=deliver, args=(u,)) for u in urls]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        wait_for(lambda: analyses_posted(slack), 60)
    assert sorted(answers) == [b"duplicate", b"opened"]
    assert len([m for m in slack.methods("chat.postMessage") if "thread_ts" not in m]) == 1
    assert len(analyses_posted(slack)) == 1
