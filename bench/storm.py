"""An alarm storm through `/aws/sns`: 1,000 signed notifications for 50 services within
60 s, 5% of them delivered twice, some alarms flapping (ALARM, OK, ALARM).

Targets: lost 0, duplicated incidents 0, incidents opened 50, at most one new Slack
message per channel per second, ingest p99 under 200 ms, peak RSS under 300 MB. The
bot runs in this process (HTTP server, analysis pool, SQLite or DATABASE_URL); moto
and the fake Slack Web API run beside it on loopback. The last line printed is one
JSON object with the figures.

    python bench/storm.py [--alarms 1000] [--services 50] [--seconds 50]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import statistics
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from sqlalchemy import func, select

from bot.config import Settings
from bot.ingest.alarms import parse_alarm_payload
from bot.ingest.sns import CertificateCache
from bot.models import Alarm, AlarmState
from bot.sim.emulator import running_emulator
from bot.sim.fakes.bot_server import serving
from bot.sim.fakes.slack import fake_slack
from bot.sim.fakes.sns import CERT_URL, PEM, signed
from bot.sim.payloads import sns_notification
from bot.store.tables import AlarmEvent, AnalysisJob, Incident

CHANNELS = 10  # services share channels, as teams do: five services per channel


def alarm(service: int, name: str, state: AlarmState) -> Alarm:
    return Alarm(
        name=f"svc{service}-{name}",
        namespace="AWS/Lambda",
        metric="Errors",
        dimensions={"FunctionName": f"svc{service}-fn"},
        state=state,
        previous_state=AlarmState.OK if state is AlarmState.ALARM else AlarmState.ALARM,
        changed_at=datetime.now(UTC),
        region="us-east-1",
        account="111122223333",
        statistic="Sum",
        threshold=1,
        arn=f"arn:aws:cloudwatch:us-east-1:111122223333:alarm:svc{service}-{name}",
    )


def deliveries(total: int, services: int, rng: random.Random) -> list[tuple[str, bytes]]:
    """(key, signed body) in delivery order: each service's alarms, flaps, and repeats."""
    unique = round(total * 0.95)
    names = ["errors", "throttles", "p95-latency", "duration", "invocation-errors"]
    plan: list[Alarm] = []
    for i in range(unique):
        service = i % services
        if i // services % 6 == 3:  # now and then the first alarm flaps: OK, then ALARM again
            state = AlarmState.OK if i // services % 12 == 3 else AlarmState.ALARM
            plan.append(alarm(service, names[0], state))
        else:
            plan.append(alarm(service, rng.choice(names), AlarmState.ALARM))
    messages = []
    for i, item in enumerate(plan):
        body = {k: v for k, v in sns_notification(item, f"storm-{i}").items() if k != "Subject"}
        messages.append((f"storm-{i}", json.dumps(signed(body)).encode()))
    repeats = rng.sample(messages, total - unique)  # SNS delivers at least once
    for repeat in repeats:
        messages.insert(rng.randrange(messages.index(repeat) + 1, len(messages) + 1), repeat)
    return messages


def deliver(url: str, body: bytes) -> tuple[float, bytes]:
    began = time.perf_counter()
    request = urllib.request.Request(f"{url}/aws/sns", data=body, method="POST")
    with urllib.request.urlopen(request, timeout=30) as response:
        answer = response.read()
    return time.perf_counter() - began, answer


def max_new_per_channel_per_second(posts: list[tuple[float, str]]) -> int:
    buckets = Counter((channel, int(at)) for at, channel in posts)
    return max(buckets.values(), default=0)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alarms", type=int, default=1000)
    parser.add_argument("--services", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=50.0, help="spread of the deliveries")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    data_dir = Path(tempfile.mkdtemp())
    catalog = data_dir / "catalog.yaml"
    catalog.write_text(
        "services:\n"
        + "".join(
            f"  - {{name: svc{i}, slack_channel: '#team{i % CHANNELS}', "
            f"lambda_functions: [svc{i}-fn]}}\n"
            for i in range(args.services)
        )
    )
    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}.items():
        os.environ.setdefault(name, value)  # the emulator takes any key; never a real one
    messages = deliveries(args.alarms, args.services, random.Random(args.seed))
    with (
        running_emulator() as moto,
        fake_slack() as slack,
        contextlib.ExitStack() as stack,  # the bot stops first: no work outlives the fakes
    ):
        settings = Settings(
            SLACK_BOT_TOKEN="xoxb-bench",
            SLACK_SIGNING_SECRET="bench-secret",
            SLACK_API_URL=slack.url + "/api/",
            LLM_INCIDENT_CATALOG=catalog,
            LLM_INCIDENT_DATA_DIR=data_dir,
            AWS_ENDPOINT_URL=moto,
            LLM_INCIDENT_EVIDENCE_DEADLINE=10,
            LLM_INCIDENT_AUTO_MIGRATE=True,
        )
        certificates = CertificateCache(known={CERT_URL: x509.load_pem_x509_certificate(PEM)})
        url, ctx = stack.enter_context(serving(settings, certificates, threads=16))
        gap = args.seconds / len(messages)
        began = time.perf_counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            futures = []
            for i, (_, body) in enumerate(messages):
                time.sleep(max(0.0, began + i * gap - time.perf_counter()))
                futures.append(pool.submit(deliver, url, body))
            results = [f.result() for f in futures]
        delivered_s = time.perf_counter() - began
        store = ctx.runtime.store
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:  # every owed analysis posted
            with store.session() as session:
                pending = session.scalar(
                    select(func.count())
                    .select_from(AnalysisJob)
                    .where(AnalysisJob.state.in_(["queued", "running"]))
                )
            if not pending:
                break
            time.sleep(0.5)
        drained_s = time.perf_counter() - began
        with store.session() as session:
            stored = set(session.scalars(select(AlarmEvent.key)))
            per_service = Counter(session.scalars(select(Incident.service)))
        ctx.runtime.executor.shutdown(wait=True)
        ctx.runtime.notes.shutdown(wait=True)  # thread notes (also firing, flaps) posted too
        notes_s = time.perf_counter() - began
        posted = [
            (at, args.get("channel", ""))
            for at, (method, args) in zip(slack.stamps, slack.calls, strict=True)
            if method == "chat.postMessage"
        ]
    keys = {parse_alarm_payload(body).key for _, body in messages}
    latencies = [seconds for seconds, _ in results]
    outcomes = Counter(answer.decode() for _, answer in results)
    figures = {
        "alarms": len(messages),
        "lost": len(keys - stored),
        "duplicate_incidents": sum(n - 1 for n in per_service.values() if n > 1),
        "incidents_opened": sum(per_service.values()),
        "max_new_messages_per_channel_per_s": max_new_per_channel_per_second(posted),
        "ingest_p99_ms": round(sorted(latencies)[int(0.99 * (len(latencies) - 1))] * 1000, 1),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(
        f"delivered {len(messages)} notifications in {delivered_s:.1f} s "
        f"({dict(outcomes)}); ingest p50 {statistics.median(latencies) * 1000:.1f} ms; "
        f"every analysis posted after {drained_s:.1f} s, every note after {notes_s:.1f} s; "
        f"{len(posted)} new Slack messages"
    )
    print(json.dumps(figures))
    return 0


if __name__ == "__main__":
    sys.exit(main())
