"""`export-feedback` and `export-scenario`: rated analyses as JSON lines, and a stored
incident's telemetry, read again from AWS (moto), written back as a scenario file that
`llm-incident investigate --scenario FILE --offline` answers the same way.

Every bundled scenario round-trips (bench/export.py runs all of them, about four minutes);
here one scenario per root-cause category does, to keep the suite near a minute.
"""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from bot.cli.main import main
from bot.config import BUNDLED_RUNBOOKS, BUNDLED_SCENARIOS, Settings
from bot.engine.investigate import gather_options, investigate
from bot.engine.runbooks import load_runbooks
from bot.models import Category
from bot.sim.emulator import emulator_session, reset_emulator
from bot.sim.export.logs import tokenize
from bot.sim.export.metrics import metric_spec, offset
from bot.sim.replay import replay
from bot.sim.scenario import load_scenario
from bot.store import Store
from tests.fixtures.analyses import Filled
from tools.aws import AwsClients
from tools.metrics import MetricRef

RUNBOOKS = load_runbooks(BUNDLED_RUNBOOKS)
ONE_PER_CATEGORY = {
    Category.ACCESS_DENIED: "access-denied-kb-retrieve-policy-detached.yaml",
    Category.BAD_DEPLOYMENT: "bad-deployment-canary-request-validation.yaml",  # e-mails in logs
    Category.COMPUTE_SATURATION: "compute-saturation-ingest-out-of-memory.yaml",
    Category.DEPENDENCY_FAILURE: "dependency-failure-crm-api-timeouts.yaml",
    Category.GUARDRAIL_ABUSE: "guardrail-abuse-patient-record-extraction.yaml",
    Category.INPUT_VALIDATION_ERRORS: "input-validation-errors-oversized-filings.yaml",
    Category.MODEL_PROVIDER_DEGRADATION: "model-provider-degradation-sonnet-model-timeouts.yaml",
    Category.MODEL_THROTTLING: "model-throttling-incident-channel-digest-surge.yaml",
    Category.PROMPT_REGRESSION: "prompt-regression-max-tokens-truncation.yaml",
    Category.RETRIEVAL_FAILURE: "retrieval-failure-pgvector-slow-search.yaml",
    Category.TOKEN_COST_SPIKE: "token-cost-spike-agent-pagination-loop.yaml",
}


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, db_url: str, tmp_path: Path, moto_url: str) -> Path:
    for name, value in {
        "DATABASE_URL": db_url,
        "LLM_INCIDENT_DATA_DIR": str(tmp_path),
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
    }.items():
        monkeypatch.setenv(name, value)
    return tmp_path


def test_every_category_is_one_bundled_scenario():
    assert set(ONE_PER_CATEGORY) == set(Category)
    for name in ONE_PER_CATEGORY.values():
        assert (BUNDLED_SCENARIOS / name).exists()


def test_rated_analyses_are_exported_with_evidence_answer_and_label(
    filled: Filled,
    env: Path,
    capsys: pytest.CaptureFixture[str],
):
    out = env / "feedback.jsonl"
    assert main(["export-feedback", "--out", str(out)]) == 0
    assert "4 rated analyses" in capsys.readouterr().err
    rows = {row["analysis_id"]: row for row in map(json.loads, out.read_text().splitlines())}
    ids = filled.ids
    assert set(rows) == {ids["a1"], ids["b1"], ids["c2"], ids["old"]}  # c1 has no vote
    a1 = rows[ids["a1"]]
    assert a1["evidence"] == "evidence of svc-a" and a1["service"] == "svc-a"
    assert a1["answer"]["hypotheses"][0]["category"] == a1["category"] == "bad_deployment"
    assert a1["model"] == "claude-sonnet-5" and a1["prompt_version"] == "v1"
    assert a1["label"]["up"] == 1 and a1["label"]["down"] == 1
    assert a1["label"]["category"] == "model_throttling"  # the later vote named it
    assert [v["vote"] for v in a1["votes"]] == [1, -1]
    b1 = rows[ids["b1"]]
    assert b1["label"] == {"up": 0, "down": 2, "category": "model_throttling", "correct": True}
    assert b1["votes"][1]["wrong"] == "remediation"
    assert rows[ids["c2"]]["label"]["correct"] is True
    assert "U1" not in out.read_text()  # voters are counted, never named


def test_offsets_and_log_skeletons():
    assert [offset(s) for s in (0, -720, 300, -90, 0.4)] == ["0", "-12m", "+5m", "-90s", "0"]
    parts, values = tokenize(
        '{"ts":"2026-11-20T12:00:01.250Z","id":"0f1e2d3c-aaaa-4bbb-8ccc-0123456789ab","n":42}'
    )
    assert values == ["2026-11-20T12:00:01.250Z", "0f1e2d3c-aaaa-4bbb-8ccc-0123456789ab", "42"]
    assert parts[0] == '{{"ts":"' and "\0uuid" in parts


def test_a_metric_becomes_segments_with_their_level_and_noise():
    from datetime import UTC, datetime

    t0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    quiet = [100 + (-3 if i % 2 else 3) for i in range(48)]
    loud = [40 + (-2 if i % 2 else 2) for i in range(17)]
    points = [
        (t0 + timedelta(minutes=m), v) for m, v in zip(range(-60, 5), quiet + loud, strict=True)
    ]
    ref = MetricRef(namespace="AWS/Bedrock", name="Invocations", dimensions={"ModelId": "m"})
    spec = metric_spec(ref, "Sum", points, t0)
    assert spec is not None and spec["unit"] == "Count"
    first, second = spec["segments"]
    assert (first["from"], first["to"], first["value"]) == ("-60m", "-12m", 100.0)
    assert (second["from"], second["to"]) == ("-12m", "+5m")
    assert second["value"] == pytest.approx(40, abs=0.2)
    assert 0.03 < first["jitter"] < 0.07


@pytest.mark.parametrize(
    "name", sorted(ONE_PER_CATEGORY.values()), ids=lambda n: n.removesuffix(".yaml")
)
def test_an_exported_incident_round_trips_through_offline_investigation(
    name: str,
    env: Path,
    db_url: str,
    moto_url: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
):
    settings = Settings(_env_file=None)
    scenario = load_scenario(BUNDLED_SCENARIOS / name)
    reset_emulator(moto_url)
    aws = AwsClients(scenario.region, moto_url, emulator_session(scenario.region))
    run = replay(scenario, aws, settings)
    original, bundle = investigate(
        aws,
        run.alarm,
        run.service,
        RUNBOOKS,
        now=run.telemetry.end,
        options=gather_options(settings),
    )
    store = Store(db_url)
    incident = store.incidents.record_alarm(
        "sns-1", run.alarm, scenario.service.name, timedelta(minutes=30)
    )
    assert incident.incident is not None
    analysis = store.analyses.add(incident.incident.id, original, bundle.render(), 2.0)
    store.feedback.vote(analysis.id, "U1", 1)
    catalog = env / "catalog.yaml"
    catalog.write_text(yaml.safe_dump({"services": [scenario.service.model_dump(mode="json")]}))
    out = env / "exported.yaml"
    monkeypatch.setenv("LLM_INCIDENT_CATALOG", str(catalog))
    code = main(["export-scenario", "--incident", str(incident.incident.id), "--out", str(out)])
    assert code == 0, capsys.readouterr().err
    text = out.read_text()
    exported = load_scenario(out)
    assert exported.expected is not None
    assert exported.expected.category == original.top.category  # 👍 confirmed it
    assert exported.alarm.name == scenario.alarm.name and exported.region == scenario.region
    assert exported.metrics and exported.logs
    assert not re.search(r"[\w.+-]+@example\.com", text)  # e-mails in log lines redacted
    capsys.readouterr()
    assert main(["investigate", "--scenario", str(out), "--offline", "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["hypotheses"][0]["category"] == original.top.category.value


def test_a_downvote_naming_the_real_cause_sets_the_expected_category(
    env: Path, db_url: str, moto_url: str
):
    settings = Settings(_env_file=None)
    scenario = load_scenario(BUNDLED_SCENARIOS / ONE_PER_CATEGORY[Category.PROMPT_REGRESSION])
    reset_emulator(moto_url)
    aws = AwsClients(scenario.region, moto_url, emulator_session(scenario.region))
    run = replay(scenario, aws, settings)
    original, bundle = investigate(aws, run.alarm, run.service, RUNBOOKS, now=run.telemetry.end)
    store = Store(db_url)
    delivery = store.incidents.record_alarm(
        "sns-2", run.alarm, scenario.service.name, timedelta(minutes=30)
    )
    assert delivery.incident is not None
    analysis = store.analyses.add(delivery.incident.id, original, bundle.render(), 2.0)
    store.feedback.vote(analysis.id, "U1", 1)
    store.feedback.vote(analysis.id, "U2", -1, real_category="bad_deployment")
    out = env / "relabelled.yaml"
    assert (
        main(["export-scenario", "--incident", str(delivery.incident.id), "--out", str(out)]) == 0
    )
    exported = load_scenario(out)
    assert exported.expected is not None
    assert exported.expected.category is Category.BAD_DEPLOYMENT
    assert "confirmed by the votes" in exported.notes
    assert main(["export-scenario", "--incident", "999", "--out", str(out)]) == 1
