"""`llm-incident check-config`: one line per check, through the real command line, against
a fake Slack Web API on loopback and the moto server (with IAM enforcement for denials)."""

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.cli.checks.aws import READ_PROBES
from bot.cli.checks.slack import SLACK_SCOPES
from bot.cli.main import main
from bot.sim.emulator import emulator_session
from bot.sim.fakes.http import serve
from bot.sim.fakes.slack import FakeSlack
from bot.store import schema

CATALOG = Path(__file__).parents[1] / "fixtures" / "catalog.yaml"
ENV = (
    "SLACK_BOT_TOKEN",
    "SLACK_APP_TOKEN",
    "SLACK_SIGNING_SECRET",
    "SLACK_API_URL",
    "LLM_INCIDENT_CATALOG",
    "LLM_INCIDENT_RUNBOOKS",
    "LLM_INCIDENT_DEFAULT_CHANNEL",
    "DATABASE_URL",
    "AWS_ENDPOINT_URL",
    "LLM_FALLBACK_MODEL",
    "LLM_INCIDENT_ALLOWED_ACCOUNTS",
    "LLM_INCIDENT_ALLOWED_TOPICS",
)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """The fake Slack, reporting the granted scopes in `x-oauth-scopes` as Slack does."""
    fake = FakeSlack()
    fake.scopes = set(SLACK_SCOPES)  # type: ignore[attr-defined]

    def handle(path: str, headers: dict[str, str], body: bytes):
        status, out, payload = fake.handle(path, headers, body)
        if "auth.test" in path and getattr(fake, "revoked", False):
            payload = json.dumps({"ok": False, "error": "invalid_auth"}).encode()
        return status, {**out, "x-oauth-scopes": ",".join(sorted(fake.scopes))}, payload

    with serve(handle) as url:
        fake.url = url
        yield fake


@pytest.fixture
def env(
    slack: FakeSlack, tmp_path: Path, db_url: str, monkeypatch: pytest.MonkeyPatch
) -> FakeSlack:
    """A complete HTTP-mode configuration; each test breaks one thing."""
    monkeypatch.chdir(tmp_path)  # no developer's .env
    for name in ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "test-signing-secret")
    monkeypatch.setenv("SLACK_API_URL", slack.url + "/api/")
    monkeypatch.setenv("LLM_INCIDENT_CATALOG", str(CATALOG))
    monkeypatch.setenv("LLM_INCIDENT_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("DATABASE_URL", db_url)  # migrated
    monkeypatch.setenv("LLM_INCIDENT_ALLOWED_ACCOUNTS", "111122223333")
    return slack


def check(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, str]]:
    """Run the command; returns its exit code and each check's line by the check's name."""
    code = main(["check-config", *args])
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1].endswith("failed"), lines
    return code, {line[6:].split(": ", 1)[0]: line for line in lines[:-1]}


def test_a_complete_configuration_passes(env, capsys):
    code, lines = check(capsys)
    assert code == 0, lines
    assert list(lines) == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "slack auth.test",
        "catalog",
        "channels",
        "runbooks",
        "database",
        "alarm sources",
        "llm",
    ]
    assert all(line.startswith("ok    ") for line in lines.values())
    assert f"all {len(SLACK_SCOPES)} scopes granted" in lines["slack auth.test"]
    assert "2 services from" in lines["catalog"]
    assert f"reachable, schema at {schema.head()}" in lines["database"]
    assert "accounts 111122223333" in lines["alarm sources"]
    assert [m for m, _ in env.calls] == ["auth.test"]


def test_a_missing_bot_token_fails_and_slack_is_not_asked(env, capsys, monkeypatch):
    monkeypatch.delenv("SLACK_BOT_TOKEN")
    code, lines = check(capsys)
    assert code == 1
    assert lines["SLACK_BOT_TOKEN"].startswith("FAIL  SLACK_BOT_TOKEN: not set")
    assert "xoxb-" in lines["SLACK_BOT_TOKEN"]
    assert "slack auth.test" not in lines and env.calls == []
    assert lines["database"].startswith("ok")


def test_tokens_in_each_others_variables_fail(env, capsys, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xapp-1-A1-2-abc")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xoxb-123")
    code, lines = check(capsys)
    assert code == 1
    assert "not 'xoxb-'" in lines["SLACK_BOT_TOKEN"] and lines["SLACK_BOT_TOKEN"][:4] == "FAIL"
    assert "not 'xapp-'" in lines["SLACK_APP_TOKEN"] and lines["SLACK_APP_TOKEN"][:4] == "FAIL"


def test_socket_mode_needs_no_signing_secret_but_one_of_the_two_is_needed(env, capsys, monkeypatch):
    monkeypatch.delenv("SLACK_SIGNING_SECRET")
    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A1-2-abc")
    code, lines = check(capsys)
    assert code == 0 and lines["SLACK_APP_TOKEN"].startswith("ok")

    monkeypatch.delenv("SLACK_APP_TOKEN")
    code, lines = check(capsys)
    assert code == 1
    assert lines["SLACK_SIGNING_SECRET"].startswith("FAIL")
    assert "SLACK_APP_TOKEN for Socket Mode" in lines["SLACK_SIGNING_SECRET"]


def test_a_revoked_token_and_missing_scopes_fail(env, capsys):
    env.scopes = SLACK_SCOPES - {"usergroups:read", "files:write"}
    code, lines = check(capsys)
    assert code == 1
    assert lines["slack auth.test"].startswith("FAIL")
    assert "missing scopes files:write, usergroups:read" in lines["slack auth.test"]
    assert "slack-app-manifest.yaml" in lines["slack auth.test"]

    env.revoked = True
    _, lines = check(capsys)
    assert "FAIL  slack auth.test: invalid_auth" in lines["slack auth.test"]


def test_an_unreachable_slack_api_fails(env, capsys, monkeypatch):
    monkeypatch.setenv("SLACK_API_URL", "http://127.0.0.1:9/api/")
    code, lines = check(capsys)
    assert code == 1 and "cannot reach http://127.0.0.1:9/api/" in lines["slack auth.test"]


def test_a_bad_catalog_file_fails_naming_file_and_field(env, capsys, monkeypatch, tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("services:\n  - team: claims-ai\n")
    monkeypatch.setenv("LLM_INCIDENT_CATALOG", str(catalog))
    code, lines = check(capsys)
    assert code == 1
    assert lines["catalog"].startswith("FAIL  catalog:")
    assert "catalog.yaml: services[0].name" in lines["catalog"]
    assert lines["channels"].startswith("FAIL")

    monkeypatch.setenv("LLM_INCIDENT_CATALOG", str(tmp_path / "missing.yaml"))
    _, lines = check(capsys)
    assert "missing.yaml: cannot read" in lines["catalog"]


def test_services_without_a_channel_need_the_default_channel(env, capsys, monkeypatch, tmp_path):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("services:\n  - name: chat-api\n")
    monkeypatch.setenv("LLM_INCIDENT_CATALOG", str(catalog))
    code, lines = check(capsys)
    assert code == 1 and "services chat-api have no slack_channel" in lines["channels"]

    monkeypatch.setenv("LLM_INCIDENT_DEFAULT_CHANNEL", "#oncall")
    code, lines = check(capsys)
    assert code == 0 and lines["channels"] == "ok    channels: default #oncall"


def test_a_bad_runbook_folder_fails(env, capsys, monkeypatch, tmp_path):
    books = tmp_path / "runbooks"
    books.mkdir()
    (books / "broken.md").write_text("no front matter here\n")
    monkeypatch.setenv("LLM_INCIDENT_RUNBOOKS", str(books))
    code, lines = check(capsys)
    assert code == 1 and "broken.md: no YAML front matter" in lines["runbooks"]


def test_an_unreachable_database_fails_without_showing_its_password(env, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg://bot:hunter2@127.0.0.1:9/incidents")
    code, lines = check(capsys)
    assert code == 1
    line = lines["database"]
    assert line.startswith("FAIL  database: postgresql+psycopg://bot:***@127.0.0.1:9/incidents")
    assert "unreachable" in line and "check DATABASE_URL" in line
    assert "hunter2" not in line


def test_llm_settings(env, capsys, monkeypatch):
    monkeypatch.setenv("LLM_PROVIDER", "anthropic")
    code, lines = check(capsys)
    assert code == 1 and "ANTHROPIC_API_KEY is not set" in lines["llm"]

    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    monkeypatch.setenv("LLM_MODEL", "gpt-9")
    code, lines = check(capsys)
    assert code == 1 and "LLM_MODEL=gpt-9 has no price in bot/pricing.py" in lines["llm"]

    monkeypatch.setenv("LLM_MODEL", "claude-sonnet-5-5")
    code, lines = check(capsys)
    assert code == 0 and lines["llm"] == "ok    llm: anthropic, model claude-sonnet-5-5"


def test_aws_read_actions_are_each_asked_once(env, capsys, monkeypatch, aws, moto_url):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    code, lines = check(capsys, "--aws")
    assert code == 0, lines
    for action in READ_PROBES:
        assert lines[action].startswith(f"ok    {action}: allowed"), lines[action]
    # Not denied is what is asked: a missing log group is an answer IAM let through.
    assert "ResourceNotFoundException" in lines["logs:FilterLogEvents"]


def test_aws_without_credentials_fails_once(env, capsys):
    code, lines = check(capsys, "--aws")
    assert code == 1
    assert lines["aws credentials"].startswith("FAIL  aws credentials: none found")
    assert not set(READ_PROBES) & set(lines)


DENIED = {"logs:StartQuery", "cloudtrail:LookupEvents"}
# Where moto's IAM check names an action otherwise than AWS: CloudWatch by its endpoint
# prefix (`monitoring:`), X-Ray's REST operations by their path.
MOTO_NAMES = {"xray:GetTraceSummaries": "xray:TraceSummaries", "xray:BatchGetTraces": "xray:Traces"}


@pytest.fixture
def enforced_iam(aws, moto_url) -> Iterator[dict[str, str]]:
    """Moto enforcing IAM for a user allowed every read action but DENIED; restored after."""
    allowed = set(READ_PROBES) - DENIED
    allowed |= {MOTO_NAMES[a] for a in allowed if a in MOTO_NAMES}
    allowed |= {a.replace("cloudwatch:", "monitoring:") for a in allowed}
    iam = emulator_session("us-east-1").client("iam", endpoint_url=moto_url)
    iam.create_user(UserName="llm-incident")
    policy = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": sorted(allowed), "Resource": "*"}],
    }
    iam.put_user_policy(
        UserName="llm-incident", PolicyName="read", PolicyDocument=json.dumps(policy)
    )
    key = iam.create_access_key(UserName="llm-incident")["AccessKey"]
    _reset_auth(moto_url, "0")
    try:
        yield {
            "AWS_ACCESS_KEY_ID": key["AccessKeyId"],
            "AWS_SECRET_ACCESS_KEY": key["SecretAccessKey"],
        }
    finally:
        _reset_auth(moto_url, "inf")


def _reset_auth(url: str, count: str) -> None:
    """Moto authorizes every request after the first `count` (inf: none)."""
    request = urllib.request.Request(
        f"{url}/moto-api/reset-auth",
        data=count.encode(),
        headers={"Content-Type": "text/plain"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):
        pass


def test_aws_denied_actions_fail_one_line_each(env, capsys, monkeypatch, moto_url, enforced_iam):
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    for name, value in enforced_iam.items():
        monkeypatch.setenv(name, value)
    code, lines = check(capsys, "--aws")
    assert code == 1
    failed = {name for name, line in lines.items() if line.startswith("FAIL")}
    assert failed == DENIED
    assert "denied" in lines["logs:StartQuery"]
    assert "deploy/iam-policy.json" in lines["cloudtrail:LookupEvents"]
    assert lines["cloudwatch:DescribeAlarms"].startswith("ok")


def test_a_database_behind_the_schema_says_to_upgrade(env, empty_db_url, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    code, lines = check(capsys)
    assert code == 1 and "run `llm-incident db upgrade`" in lines["database"]


def test_an_empty_allow_list_warns_in_http_mode_only(env, capsys, monkeypatch):
    monkeypatch.delenv("LLM_INCIDENT_ALLOWED_ACCOUNTS")
    code = main(["check-config"])
    out = capsys.readouterr().out.splitlines()
    [line] = [line for line in out if "alarm sources" in line]
    assert code == 0, "a warning is no failure"
    assert line.startswith("WARN  alarm sources: LLM_INCIDENT_ALLOWED_ACCOUNTS is empty")
    assert "any AWS account" in line and out[-1].endswith("(1 with a warning), 0 failed")

    monkeypatch.setenv("SLACK_APP_TOKEN", "xapp-1-A1-2-abc")  # Socket Mode: no public URL
    code, lines = check(capsys)
    assert lines["alarm sources"].startswith("ok    alarm sources: no allow-list")


def test_the_allow_list_shows_topics_and_the_senders_refused(env, capsys, monkeypatch, db_url):
    from bot.store import Store

    topic = "arn:aws:sns:us-east-1:111122223333:alarms"
    stranger = "arn:aws:sns:us-east-1:999988887777:theirs"
    monkeypatch.setenv("LLM_INCIDENT_ALLOWED_TOPICS", topic)
    Store(db_url).sources.count("sns-http", "999988887777", stranger, "x", "not allowed: topic")
    Store(db_url).sources.count("sns-http", "999988887777", stranger, "y", "not allowed: topic")
    code, lines = check(capsys)
    assert code == 0
    line = lines["alarm sources"]
    assert f"topics {topic}" in line and "older than 3600s refused" in line
    assert f"refused so far: {stranger} (2)" in line


def test_a_bad_account_id_in_the_allow_list_is_one_line(env, capsys, monkeypatch):
    monkeypatch.setenv("LLM_INCIDENT_ALLOWED_ACCOUNTS", "111122223333,12345")
    assert main(["check-config"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert "LLM_INCIDENT_ALLOWED_ACCOUNTS" in line and "'12345'" in line


def test_aws_assumes_each_catalog_role_once(env, capsys, monkeypatch, aws, moto_url, tmp_path):
    catalog = tmp_path / "roles.yaml"
    catalog.write_text(
        "services:\n"
        "  - name: claims\n"
        "    slack_channel: '#claims'\n"
        "    account: '222233334444'\n"
        "    role_arn: arn:aws:iam::222233334444:role/llm-incident-read\n"
        "    external_id: shared-secret\n"
    )
    monkeypatch.setenv("LLM_INCIDENT_CATALOG", str(catalog))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    code, lines = check(capsys, "--aws")
    assert code == 0, lines
    assert lines["role of claims"].startswith(
        "ok    role of claims: assumed arn:aws:iam::222233334444:role/llm-incident-read"
    )
