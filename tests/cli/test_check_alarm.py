"""`llm-incident check-alarm FILE [--json]`: every payload shape read as the bot reads it,
through the real command line, posting nothing."""

import io
import json

import pytest

from bot.cli.main import main
from tests.fixtures.payloads import (
    ALLOWED,
    EXPECTED,
    PAYLOADS,
    mismatches,
    payload_names,
    realdata_expected,
    realdata_names,
    score,
)


@pytest.fixture
def allowed(monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # no developer's .env
    monkeypatch.setenv("LLM_INCIDENT_ALLOWED_ACCOUNTS", ALLOWED)
    monkeypatch.delenv("LLM_INCIDENT_ALLOWED_TOPICS", raising=False)
    monkeypatch.delenv("LLM_INCIDENT_CATALOG", raising=False)


def read(capsys, *argv: str) -> list[dict]:
    assert main(["check-alarm", *argv, "--json"]) == 0
    found = json.loads(capsys.readouterr().out)
    return found if isinstance(found, list) else [found]


@pytest.mark.parametrize("name", payload_names())
def test_each_shape_reads_as_expected(name, allowed, capsys):
    found = read(capsys, str(PAYLOADS / name))
    expected = EXPECTED[name]
    assert len(found) == len(expected), found
    for want, got in zip(expected, found, strict=True):
        assert not mismatches(want, got), mismatches(want, got)
        assert set(got) >= {"delivery", "alarm", "service", "decision"}


def test_stdin_and_the_text_form(allowed, capsys, monkeypatch):
    text = (PAYLOADS / "lambda_sns_two_alarms.json").read_bytes()
    monkeypatch.setattr("sys.stdin", io.TextIOWrapper(io.BytesIO(text)))
    assert main(["check-alarm", "-"]) == 0
    out = capsys.readouterr().out
    assert out.count("delivery: lambda-sns") == 2
    assert "kind:     math  100*m1/m2" in out
    assert "reads   m1: AWS/Bedrock InvocationClientErrors" in out
    assert "decision: investigate" in out


def test_the_service_comes_from_the_catalog(allowed, capsys, monkeypatch, tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text(
        "services:\n"
        "  - name: claims-copilot\n"
        "    account: '111122223333'\n"
        "    bedrock: {model_ids: [us.anthropic.claude-3-5-haiku-20241022-v1:0]}\n"
        "  - name: claims-copilot-staging\n"
        "    account: '444455556666'\n"
        "    bedrock: {model_ids: [us.anthropic.claude-3-5-haiku-20241022-v1:0]}\n"
    )
    monkeypatch.setenv("LLM_INCIDENT_CATALOG", str(catalog))
    # A math alarm's metrics name the model; its account picks the right one of the two.
    found = read(capsys, str(PAYLOADS / "lambda_sns_two_alarms.json"))
    assert [f["service"] for f in found] == ["claims-copilot", "claims-copilot"]


def test_a_record_that_cannot_be_read_is_rejected_and_the_others_read(allowed, capsys, tmp_path):
    event = json.loads((PAYLOADS / "lambda_sqs_sns_guardrail.json").read_text())
    event["Records"].append({**event["Records"][0], "messageId": "bad", "body": "{not json"})
    path = tmp_path / "batch.json"
    path.write_text(json.dumps(event))
    good, bad = read(capsys, str(path))
    assert good["decision"] == "investigate"
    assert bad["decision"] == "reject" and bad["reason"].startswith(
        "unreadable: payload is not JSON"
    )


@pytest.mark.parametrize(
    ("content", "words"),
    [("not json at all", "not JSON"), ('{"hello": "world"}', "neither an SNS notification")],
)
def test_a_payload_that_is_no_alarm_at_all_is_bad_input(content, words, allowed, capsys, tmp_path):
    path = tmp_path / "p.json"
    path.write_text(content)
    assert main(["check-alarm", str(path)]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert words in line


def test_a_missing_file_is_bad_input(allowed, capsys, tmp_path):
    assert main(["check-alarm", str(tmp_path / "nope.json")]) == 2
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.skipif(not realdata_names(), reason="../shared/realdata/alarms is not here")
def test_the_real_payloads_read_as_their_sources_say(capsys, monkeypatch, tmp_path):
    """Every real payload of ../shared/realdata/alarms, through check-alarm."""
    monkeypatch.chdir(tmp_path)
    for name in ("LLM_INCIDENT_ALLOWED_ACCOUNTS", "LLM_INCIDENT_ALLOWED_TOPICS"):
        monkeypatch.delenv(name, raising=False)
    expected = realdata_expected()
    from tests.fixtures.payloads import REALDATA

    parsed = right = checked = 0
    wrong: dict[str, list[str]] = {}
    names = realdata_names()
    for name in names:
        found = read(capsys, str(REALDATA / name))
        entry = expected[name]
        assert len(found) == entry.get("records", 1), name
        if all(f["alarm"] for f in found):
            parsed += 1
        ok, total, missed = score(entry, found[0])
        right, checked = right + ok, checked + total
        if missed:
            wrong[name] = missed
    figure = f"check-alarm: {parsed} of {len(names)} parsed, {right} of {checked} fields right"
    print(figure)
    assert not wrong, (figure, wrong)
    assert parsed == len(names)
