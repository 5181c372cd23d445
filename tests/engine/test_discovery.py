"""`llm-incident discover` against a seeded emulator account: the catalog it writes
resolves every alarm to its service, and investigating with it gives the answer the
hand-written catalog gives."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.cli.main import main
from bot.config import Settings
from bot.engine.catalog import load_catalog
from bot.engine.discovery import catalog_diff, propose
from bot.engine.investigate import describe_alarm, gather_options, investigate
from bot.engine.runbooks import load_runbooks
from bot.sim.emulator import emulator_session, reset_emulator
from tests.fixtures.estate import INVOCATION_LOG_GROUP, SCENARIOS, Estate, seed_estate
from tools.aws import AwsClients
from tools.discovery import read_inventory

HAND_WRITTEN = Path(__file__).parents[1] / "fixtures" / "catalog.yaml"


@pytest.fixture(scope="module")
def seeded(moto_url, tmp_path_factory) -> tuple[Estate, AwsClients, Settings]:
    """The estate, seeded once: discovery only reads, so the tests of this module share it."""
    reset_emulator(moto_url)
    aws = AwsClients("us-east-1", moto_url, emulator_session("us-east-1"))
    settings = Settings(LLM_INCIDENT_DATA_DIR=tmp_path_factory.mktemp("discover"))
    return seed_estate(aws, settings), aws, settings


@pytest.fixture
def account(seeded, moto_url, monkeypatch) -> Estate:
    """The seeded estate, and the environment the CLI reaches the emulator with."""
    estate, _, _ = seeded
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    return estate


def test_the_discovered_catalog_resolves_every_alarm_and_investigates_as_written(
    account, seeded, tmp_path
):
    _, aws, settings = seeded
    out = tmp_path / "catalog.yaml"
    assert main(["discover", "--out", str(out)]) == 0
    catalog = load_catalog(out)
    for alarm_name, owner in account.alarm_owners.items():
        alarm = describe_alarm(aws, alarm_name)
        resolved = catalog.resolve(alarm)
        assert (resolved.name if resolved else None) == owner, alarm_name
    books = load_runbooks(settings.runbooks_dir)
    for run in account.runs:
        written = run.scenario.service
        discovered = catalog.resolve(run.alarm)
        assert discovered is not None and discovered.name == written.name
        assert discovered.all_log_groups() == written.all_log_groups()
        answers = [
            investigate(
                aws,
                run.alarm,
                entry,
                books,
                now=run.telemetry.end,
                options=gather_options(settings),
            )[0]
            for entry in (written, discovered)
        ]
        assert answers[0].hypotheses[0].confidence > 0
        assert answers[1].hypotheses == answers[0].hypotheses, written.name
        assert answers[1].missing == answers[0].missing


def test_apis_the_emulator_lacks_are_skipped_with_a_note_on_stderr_and_in_the_header(
    account, tmp_path, capsys
):
    out = tmp_path / "catalog.yaml"
    assert main(["discover", "--out", str(out)]) == 0
    err = capsys.readouterr().err
    text = out.read_text()
    header = text.split("\nservices:", 1)[0]
    for api in (
        "bedrock:ListGuardrails",
        "bedrock:ListInferenceProfiles",
        "bedrock:ListProvisionedModelThroughputs",
        "bedrock:ListDataSources",
        "xray:GetServiceGraph",
    ):
        assert f"skipped {api}" in err
        assert api in header
    assert "discover: reading Lambda functions" in err  # progress, as it goes
    assert "Traceback" not in err


def test_each_value_says_where_it_came_from_and_secrets_stay_out(account, capsys):
    assert main(["discover"]) == 0
    text = capsys.readouterr().out
    assert "- claims-copilot-api  # Lambda function tagged service=claims-copilot" in text
    assert "# env MODEL_ID of claims-copilot-api" in text
    assert "{id: gr3k8m2qz7xa, version: '4'}  # env GUARDRAIL_ID of neobank-help-chat" in text
    assert "'dynamodb:claims-copilot-sessions'  # inline policy" in text
    assert f"invocation_log_group: {INVOCATION_LOG_GROUP}  # the account's model invocation" in text
    assert "# alarm claims-copilot-api-throttles (dimension FunctionName)" in text
    # The environment's other values are never copied.
    secret = SCENARIOS["demo-model-throttling-retry-storm.yaml"]["API_TOKEN"]
    assert secret not in text


def test_what_no_tag_attributes_is_listed_apart(account, capsys):
    assert main(["discover"]) == 0
    text = capsys.readouterr().out
    data = yaml.safe_load(text)
    services = {s["name"] for s in data["services"]}
    assert services == {"claims-copilot", "neobank-help", "medinfo-assistant", "policy-search"}
    groups = {g["name"]: g for g in data["unattributed"]["groups"]}
    assert groups["legacy-batch"]["bedrock"]["model_ids"] == ["meta.llama3-70b-instruct-v1:0"]
    runtime_logs = groups["triage_agent"]["log_groups"]
    assert runtime_logs == [f"/aws/bedrock-agentcore/runtimes/{account.runtime_id}-DEFAULT"]
    assert data["unattributed"]["alarms"] == ["orphan-queue-depth"]
    assert "legacy-batch-errors resolves to no service until the unattributed group" in text
    # The knowledge base the emulator lists joins the service whose role may retrieve it.
    policy = next(s for s in data["services"] if s["name"] == "policy-search")
    assert policy["bedrock"]["knowledge_bases"] == [account.knowledge_base_id]
    assert policy["slack_channel"] == "#policy-search"


def test_diff_against_a_hand_written_catalog_names_the_drift(account, capsys):
    assert main(["discover", "--diff", str(HAND_WRITTEN)]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert "+ service neobank-help: in the account, not in " + str(HAND_WRITTEN) in lines
    assert any(line.startswith("- service doc-summarizer: in ") for line in lines)
    # The hand-written entry has the account's resources, and a channel no tag gives.
    assert not any("claims-copilot" in line for line in lines)


def test_diff_of_the_catalog_it_just_wrote_is_empty(account, tmp_path, capsys):
    out = tmp_path / "catalog.yaml"
    assert main(["discover", "--out", str(out)]) == 0
    assert main(["discover", "--diff", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"no drift: {out} matches the account"


def test_another_tag_key_groups_by_its_values(account, capsys):
    assert main(["discover", "--tag-key", "team"]) == 0
    data = yaml.safe_load(capsys.readouterr().out)
    names = {s["name"] for s in data["services"]}
    assert {"claims-ai", "digital-banking-ai", "medical-affairs-tech"} <= names
    assert "policy-search-api" in {g["name"] for g in data["unattributed"]["groups"]}


def test_a_role_is_assumed_when_asked(account, capsys):
    role = "arn:aws:iam::123456789012:role/claims-copilot-role"
    assert main(["discover", "--role-arn", role]) == 0
    assert "- name: claims-copilot" in capsys.readouterr().out


def test_an_unknown_profile_fails_in_one_line(account, capsys):
    assert main(["discover", "--profile", "no-such-profile"]) == 1
    err = capsys.readouterr().err
    assert "no-such-profile" in err and "Traceback" not in err


def test_the_inventory_read_is_the_catalog_proposed(seeded):
    """The library path the CLI wraps: the same catalog, and diff empty against itself."""
    _, aws, _ = seeded
    proposal = propose(read_inventory(aws))
    assert catalog_diff(proposal.catalog, proposal.catalog) == []
    assert load_catalog_text(proposal.yaml) == proposal.catalog


def load_catalog_text(text: str):
    from bot.engine.catalog import parse_catalog

    return parse_catalog(yaml.safe_load(text), "discovered")
