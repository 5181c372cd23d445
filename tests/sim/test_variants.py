"""Adversarial variants change how an incident is told, never its cause: each kind really
changes the telemetry, and the diagnosis of a bundled scenario holds in every kind (a
small subset of `bench/robustness.py`, so a regression in one kind fails here)."""

from __future__ import annotations

import json

import pytest
import yaml

from bot.config import BUNDLED_RUNBOOKS, BUNDLED_SCENARIOS, Settings
from bot.engine.runbooks import load_runbooks
from bot.sim.evaluate import evaluate
from bot.sim.variants import KINDS, TRAPS, estimated_onset, expected_evidence, reword, variant

CANARY = BUNDLED_SCENARIOS / "bad-deployment-canary-request-validation.yaml"
DENIED = BUNDLED_SCENARIOS / "access-denied-kb-retrieve-policy-detached.yaml"


def load(path) -> dict:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def test_reword_gives_other_sdk_wordings_of_the_same_error():
    boto = (
        "[ERROR] {ts} {uuid} An error occurred (ThrottlingException) when calling the "
        "InvokeModel operation (reached max retries: 8): Too many tokens, please wait before "
        "trying again."
    )
    js = reword(boto, 0)
    assert js.endswith(
        "ThrottlingException: Too many requests, please wait before trying "
        "again. You have sent too many requests.  Wait before trying again."
    )
    assert js.startswith("[ERROR] {ts} {uuid} ")
    stream = reword(boto, 1)
    assert "(throttlingException) when calling the ConverseStream operation" in stream
    short = "[WARNING] {ts} {uuid} throttled (attempt 1): ThrottlingException: Rate exceeded"
    assert "An error occurred (ThrottlingException) when calling the Converse operation" in reword(
        short, 0
    )
    record = '{{"level":"ERROR","error":"ThrottlingException: Rate exceeded"}}'
    assert reword(record, 0) == record, "JSON records keep their fields"


def test_every_kind_changes_the_telemetry_and_keeps_the_answer_key():
    data = load(CANARY)
    for kind in [k for k in KINDS if k != "wording"]:  # its errors are not SDK errors
        changed = variant(data, kind)
        assert changed != data, kind
        assert changed["expected"] == data["expected"]
    assert variant(data, "json_logs")["logs"][0]["format"] == "json"
    traps = variant(data, "traps")["logs"][0]["patterns"]
    assert {p["template"] for p in traps} >= set(TRAPS)
    assert all("from" not in p for p in traps if p["template"] in TRAPS), "steady all window"
    routine = variant(data, "routine_change")["changes"][-2:]
    assert [c["event_name"] for c in routine] == ["TagResource20170331v2", "PutRetentionPolicy"]
    assert routine[0]["at"] == estimated_onset(data)
    assert variant(data, "missing_source")["traces"] == []
    assert expected_evidence(data) == data["expected"]["evidence"]
    assert load(DENIED) != variant(load(DENIED), "wording")


@pytest.fixture(scope="module")
def emulator():
    from bot.sim.emulator import running_emulator

    with running_emulator() as url:
        yield url


# The plain scenarios are measured by bench/accuracy.py; here one variant of each kind.
CASES = [(CANARY, kind) for kind in KINDS if kind != "wording"]
CASES.append((DENIED, "wording"))


@pytest.mark.parametrize(("path", "kind"), CASES, ids=[f"{p.stem[:20]}-{k}" for p, k in CASES])
def test_the_diagnosis_holds_in_every_variant_kind(emulator, path, kind):
    data = load(path)
    told = data if kind == "plain" else variant(data, kind)
    settings = Settings(_env_file=None)
    case = evaluate(told, emulator, settings, load_runbooks(BUNDLED_RUNBOOKS), kind=kind)
    assert case.top1, f"{kind}: {case.ranked[0]} first ({case.confidence})"
    assert case.evidence_ok, f"{kind}: evidence {case.evidence_hit}/{case.evidence_want}"
    assert case.verdict == "determined" and case.confidence < 1.0
    assert json.dumps(case.model_dump(mode="json"))
