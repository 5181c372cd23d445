"""Slack posts under Slack's 5xx: how many of each alarm's messages appear, and how often.

The HTTP bot (moto behind it) receives signed alarms while the fake Slack Web API applies
every `chat.postMessage` and `files.completeUploadExternal` and then answers 500, 503 or
504, as Slack sometimes does; a last round answers 503 *without* applying (a real
failure, which must be retried). Each alarm's thread should hold its root, progress,
files and analysis exactly once: counted in what the fake Slack holds, by post key.

    python bench/delivery.py [--alarms 10]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import tempfile
import time
import urllib.request
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509

from bot.config import Settings
from bot.ingest.sns import CertificateCache
from bot.models import Alarm
from bot.sim.emulator import running_emulator
from bot.sim.fakes.bot_server import serving
from bot.sim.fakes.slack import FakeSlack, fake_slack
from bot.sim.fakes.sns import CERT_URL, PEM, signed
from bot.sim.payloads import sns_notification

POSTS_PER_ALARM = 3  # root, progress, analysis (the files are one more message)


def alarm(i: int, round_name: str) -> Alarm:
    name = f"svc{i}-errors-{round_name}"
    return Alarm(
        name=name,
        namespace="AWS/Lambda",
        metric="Errors",
        dimensions={"FunctionName": f"svc{i}-fn"},
        changed_at=datetime.now(UTC),
        region="us-east-1",
        account="111122223333",
        statistic="Sum",
        threshold=1,
        arn=f"arn:aws:cloudwatch:us-east-1:111122223333:alarm:{name}",
    )


def send(url: str, message: dict) -> None:
    request = urllib.request.Request(
        f"{url}/aws/sns", data=json.dumps(message).encode(), method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        assert response.read() == b"opened"


def run_round(settings: Settings, slack: FakeSlack, alarms: int, status: int, applied: bool) -> str:
    """One round on a fresh database; returns its figure line."""
    before_messages, before_calls = len(slack.messages), len(slack.methods("chat.postMessage"))
    before_failed = len(slack.failed)
    if applied:  # every post and every file message: applied, then answered `status`
        for _ in range(alarms * POSTS_PER_ALARM):
            slack.fail_after("chat.postMessage", status)
        for _ in range(alarms):
            slack.fail_after("files.completeUploadExternal", status)
    else:  # two posts in three of the round refused before anything was applied
        for _ in range(alarms * 2):
            slack.fail("chat.postMessage", status)
    certificates = CertificateCache(known={CERT_URL: x509.load_pem_x509_certificate(PEM)})
    label = f"{status} after applying" if applied else f"{status} not applied"
    with serving(settings, certificates, threads=16) as (url, ctx):
        for i in range(alarms):
            note = sns_notification(
                alarm(i, f"{status}{'a' if applied else 'n'}"), f"m-{status}-{applied}-{i}"
            )
            send(url, signed({k: v for k, v in note.items() if k != "Subject"}))
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            done = [
                a
                for i in ctx.runtime.store.incidents.list_open()
                if (a := ctx.runtime.store.analyses.latest(i.id)) and a.message_ts
            ]
            if len(done) >= alarms:
                break
            time.sleep(0.2)
    slack.faults.clear()
    slack.faults_after.clear()
    held = slack.messages[before_messages:]
    by_key = Counter((m.get("metadata") or {}).get("event_payload", {}).get("key") for m in held)
    files = sum(1 for m in held if m.get("files"))
    keyed = {k: n for k, n in by_key.items() if k}
    expected = alarms * POSTS_PER_ALARM
    duplicates = sum(n - 1 for n in keyed.values()) + max(files - alarms, 0)
    lost = expected - len(keyed) + max(alarms - files, 0)
    sent = len(slack.methods("chat.postMessage")) - before_calls
    failed = sum(1 for method, _ in slack.failed[before_failed:] if method == "chat.postMessage")
    return (
        f"Slack {label}: {alarms} alarms, {expected} posts + {alarms} file messages expected; "
        f"{failed} answered {status}, {sent} applied; {len(keyed)} posts and {files} file "
        "messages appear, "
        f"{duplicates} duplicates, {lost} lost"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alarms", type=int, default=10)
    args = parser.parse_args(argv)
    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench"}.items():
        os.environ.setdefault(name, value)  # the emulator takes any key; never a real one
    lines = []
    with running_emulator() as moto, fake_slack() as slack, contextlib.ExitStack():
        for status, applied in ((500, True), (503, True), (504, True), (503, False)):
            data_dir = Path(tempfile.mkdtemp())
            settings = Settings(
                _env_file=None,
                SLACK_BOT_TOKEN="xoxb-bench",
                SLACK_SIGNING_SECRET="bench",
                SLACK_API_URL=slack.url + "/api/",
                LLM_INCIDENT_DEFAULT_CHANNEL="#incidents",
                LLM_INCIDENT_DATA_DIR=data_dir,
                AWS_ENDPOINT_URL=moto,
                LLM_INCIDENT_EVIDENCE_DEADLINE=5,
                LLM_INCIDENT_AUTO_MIGRATE=True,
            )
            lines.append(run_round(settings, slack, args.alarms, status, applied))
            print(lines[-1], flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
