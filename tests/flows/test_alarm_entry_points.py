"""Every payload shape through the door AWS delivers it by: Lambda events to the Lambda
handler, EventBridge events and bare alarm messages through the SQS queue the poller
reads, SNS envelopes to `/aws/sns` (signed again with the test key and stamped as sent
now: a real signature needs AWS's certificate, and the stored ones are years old). What
each door read is what the one intake was handed (`Intake.take`, watched, not replaced)."""

from __future__ import annotations

import json
from contextlib import contextmanager
from pathlib import Path

import pytest
import responses

from bot.cli.check_alarm import alarm_fields
from bot.config import load_settings
from bot.ingest.alarms import Reading
from bot.ingest.sources import AllowList, decide
from bot.server import lambda_handler
from bot.server.intake import Intake, Outcome
from bot.server.scheduler import poll_once
from bot.sim.fakes.bot_server import serving
from bot.sim.fakes.sns import CERT_URL, PEM, fresh, signed
from tests.fixtures.loopback import post
from tests.fixtures.payloads import (
    ALLOWED,
    EXPECTED,
    PAYLOADS,
    REALDATA,
    expected_fields,
    mismatches,
    payload_names,
    realdata_expected,
    realdata_names,
    score,
)


@pytest.fixture
def taken(monkeypatch) -> list[tuple[Reading, Outcome]]:
    """Every reading a door hands the intake, with what the intake did with it."""
    seen: list[tuple[Reading, Outcome]] = []
    original = Intake.take

    def watched(self: Intake, reading: Reading) -> Outcome:
        outcome = original(self, reading)
        seen.append((reading, outcome))
        return outcome

    monkeypatch.setattr(Intake, "take", watched)
    return seen


class Doors:
    """The three doors of one running bot, on one database and one fake Slack."""

    def __init__(self, http_url: str, sqs, queue_url: str, intake: Intake) -> None:
        self.http_url, self.sqs, self.queue_url, self.intake = http_url, sqs, queue_url, intake

    def deliver(self, payload: dict) -> str:
        """Deliver by the payload's own door; returns which door."""
        if "Records" in payload or ("alarmData" in payload and "detail-type" not in payload):
            lambda_handler.handler(payload, None)  # raises if an alarm was not stored
            return "lambda"
        if payload.get("Type") == "Notification":
            message = signed({**fresh(payload), "SigningCertURL": CERT_URL})
            status, body = post(f"{self.http_url}/aws/sns", json.dumps(message).encode(), {})
            assert status == 200, (status, body)
            return "http"
        self.sqs.send_message(QueueUrl=self.queue_url, MessageBody=json.dumps(payload))
        counts = poll_once(self.sqs, self.queue_url, self.intake, wait_seconds=0)
        assert counts["rejected"] == 0, counts
        return "sqs"


@contextmanager
def running_doors(monkeypatch, aws, allowed: str):
    """Lambda, the HTTP server and the SQS poller of one bot, built from the same settings
    (the environment `lambda_env` set, with this allow-list)."""
    monkeypatch.setenv("LLM_INCIDENT_ALLOWED_ACCOUNTS", allowed)
    monkeypatch.setenv("LLM_INCIDENT_EVIDENCE_DEADLINE", "5")
    lambda_handler._bot.cache_clear()
    sqs = aws.client("sqs")
    queue = sqs.create_queue(QueueName="alarms", Attributes={"VisibilityTimeout": "0"})
    with (
        responses.RequestsMock(assert_all_requests_are_fired=False) as certs,
        serving(load_settings()) as (url, ctx),
    ):
        certs.get(CERT_URL, body=PEM)
        certs.add_passthru("http://127.0.0.1")
        yield Doors(url, sqs, queue["QueueUrl"], Intake(ctx.incidents))


def as_printed(reading: Reading, outcome: Outcome) -> dict:
    """What was read, in check-alarm's shape, with what the intake did: skipped (and
    why), or stored (an ALARM to investigate, or a state that only updates incidents)."""
    alarm = reading.notice.alarm if reading.notice else None
    found = {"delivery": reading.delivery, "alarm": alarm_fields(alarm) if alarm else None}
    if outcome.status in ("skipped", "refused"):
        return found | {"decision": "skip", "reason": outcome.detail}
    assert outcome.status == "stored", outcome
    verdict = decide(reading, AllowList())
    return (
        found
        | {"decision": verdict.decision}
        | ({"reason": verdict.reason} if verdict.reason else {})
    )


# What came through the queue says the queue carried it; the other doors keep the
# document's own delivery (checked by check-alarm's tests).
DOOR_DELIVERY = {"sqs": "sqs"}


def test_our_payloads_read_the_same_through_every_door(lambda_env, aws, taken, monkeypatch):
    problems: dict[str, list[str]] = {}
    with running_doors(monkeypatch, aws, ALLOWED) as doors:
        for name in payload_names():
            problems |= _through(doors, taken, name)
    assert not problems, problems


def _through(doors: Doors, taken: list, name: str) -> dict[str, list[str]]:
    """One payload delivered by its door: what is wrong with what the door read."""
    before = len(taken)
    door = doors.deliver(json.loads((PAYLOADS / name).read_text()))
    read = taken[before:]
    expected = EXPECTED[name]
    assert len(read) == len(expected), (name, read)
    problems: dict[str, list[str]] = {}
    for want, (reading, outcome) in zip(expected, read, strict=True):
        want = {**want, "delivery": DOOR_DELIVERY.get(door, want["delivery"])}
        if wrong := mismatches(want, as_printed(reading, outcome)):
            problems[name] = wrong
    return problems


@pytest.mark.skipif(not realdata_names(), reason="../shared/realdata/alarms is not here")
def test_the_real_payloads_through_their_doors(lambda_env, aws, taken, monkeypatch):
    """Real payloads come from many accounts: no allow-list here. The delivery names the
    door (the queue, for what came through it); check-alarm checks the document's own."""
    expected = realdata_expected()
    names = realdata_names()
    parsed = right = checked = 0
    wrong: dict[str, list[str]] = {}
    with running_doors(monkeypatch, aws, "") as doors:
        for name in names:
            before = len(taken)
            doors.deliver(json.loads(Path(REALDATA / name).read_text()))
            read = taken[before:]
            entry = expected[name]
            assert len(read) == entry.get("records", 1), (name, read)
            if all(reading.notice for reading, _ in read):
                parsed += 1
            fields = set(expected_fields(entry)) - {"delivery"}
            ok, total, missed = score(entry, as_printed(*read[0]), fields)
            right, checked = right + ok, checked + total
            if missed:
                wrong[name] = missed
    figure = f"entry points: {parsed} of {len(names)} parsed, {right} of {checked} fields right"
    print(figure)
    assert not wrong, (figure, wrong)
    assert parsed == len(names)
