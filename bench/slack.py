"""Slack-facing latency of the HTTP server (fake Slack at zero latency, moto behind).

1. Slash-command ack latency under 20 concurrent `/llm-incident status` commands
   (target: p99 under 300 ms).
2. Alarm received (signed SNS POST) to root message posted (target: p50 under 150 ms).

    python bench/slack.py [--rounds 10] [--alarms 40]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlencode

from cryptography import x509

from bot.config import Settings
from bot.ingest.sns import CertificateCache
from bot.models import Alarm
from bot.sim.emulator import running_emulator
from bot.sim.fakes.bot_server import serving
from bot.sim.fakes.slack import fake_slack, signed_headers
from bot.sim.fakes.sns import CERT_URL, PEM, signed
from bot.sim.payloads import sns_notification

SECRET = "bench-secret"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def slash(url: str, respond_to: str) -> float:
    body = urlencode(
        {
            "command": "/llm-incident",
            "text": "status",
            "user_id": "U1",
            "team_id": "T1",
            "channel_id": "C1",
            "trigger_id": "t",
            "response_url": respond_to,
        }
    )
    headers = signed_headers(body, SECRET, "application/x-www-form-urlencoded")
    request = urllib.request.Request(
        f"{url}/slack/events", data=body.encode(), method="POST", headers=headers
    )
    began = time.perf_counter()
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()
    return time.perf_counter() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--alarms", type=int, default=40)
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp())
    catalog = data_dir / "catalog.yaml"
    catalog.write_text(
        "services:\n"
        + "".join(
            f"  - {{name: svc{i}, slack_channel: '#svc{i}', lambda_functions: [svc{i}-fn]}}\n"
            for i in range(args.alarms)
        )
    )
    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}.items():
        os.environ.setdefault(name, value)  # the emulator takes any key; never a real one
    with (
        running_emulator() as moto,
        fake_slack() as slack,
        contextlib.ExitStack() as stack,  # the bot stops first: no work outlives the fakes
    ):
        settings = Settings(
            SLACK_BOT_TOKEN="xoxb-bench",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.url + "/api/",
            LLM_INCIDENT_CATALOG=catalog,
            LLM_INCIDENT_DATA_DIR=data_dir,
            AWS_ENDPOINT_URL=moto,
            LLM_INCIDENT_EVIDENCE_DEADLINE=5,
            LLM_INCIDENT_AUTO_MIGRATE=True,
        )
        certificates = CertificateCache(known={CERT_URL: x509.load_pem_x509_certificate(PEM)})
        url, _ = stack.enter_context(serving(settings, certificates, threads=16))
        respond_to = f"{slack.url}/respond"
        slash(url, respond_to)  # warm up
        acks: list[float] = []
        with ThreadPoolExecutor(max_workers=20) as pool:
            for _ in range(args.rounds):
                acks += list(pool.map(lambda _: slash(url, respond_to), range(20)))
        latencies = []
        for i in range(args.alarms):
            alarm = Alarm(
                name=f"svc{i}-errors",
                namespace="AWS/Lambda",
                metric="Errors",
                dimensions={"FunctionName": f"svc{i}-fn"},
                changed_at=datetime.now(UTC),
                region="us-east-1",
                account="111122223333",
                statistic="Sum",
                threshold=1,
                arn=f"arn:aws:cloudwatch:us-east-1:111122223333:alarm:svc{i}-errors",
            )
            message = signed(
                {k: v for k, v in sns_notification(alarm, f"m-{i}").items() if k != "Subject"}
            )
            began = time.perf_counter()
            request = urllib.request.Request(
                f"{url}/aws/sns", data=json.dumps(message).encode(), method="POST"
            )
            with urllib.request.urlopen(request, timeout=10) as response:
                assert response.read() == b"opened"
            while not any(
                m.get("channel") == f"#svc{i}" for m in slack.methods("chat.postMessage")
            ):
                time.sleep(0.001)
            latencies.append(time.perf_counter() - began)
    ack_p50, ack_p99 = statistics.median(acks) * 1000, percentile(acks, 0.99) * 1000
    root_p50, root_p90 = statistics.median(latencies) * 1000, percentile(latencies, 0.9) * 1000
    print(
        f"slash-command ack, 20 concurrent x {args.rounds} rounds: p50 {ack_p50:.0f} ms, "
        f"p99 {ack_p99:.0f} ms (target p99 < 300 ms)"
    )
    print(
        f"alarm received -> root message posted, {args.alarms} alarms: p50 {root_p50:.0f} ms, "
        f"p90 {root_p90:.0f} ms (target p50 < 150 ms)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
