"""Shared fixtures: a real moto server on loopback, reset before each test that uses it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from bot.config import Settings
from bot.sim.emulator import emulator_session, reset_emulator, running_emulator
from tests.fixtures.database import fresh_database
from tools.aws import AwsClients

# Fixtures shared by test packages that do not share a folder.
pytest_plugins = ["tests.fixtures.analyses", "tests.fixtures.lambda_env"]

ROOT = Path(__file__).resolve().parent.parent
SHARED_SCENARIOS = ROOT.parent / "shared" / "scenarios"
T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    with running_emulator() as url:
        yield url


@pytest.fixture
def aws(moto_url: str) -> AwsClients:
    reset_emulator(moto_url)
    return AwsClients("us-east-1", moto_url, emulator_session("us-east-1"))


@pytest.fixture
def db_url(tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database (PostgreSQL where TEST_DATABASE_URL says so)."""
    yield from fresh_database(tmp_path)


@pytest.fixture
def empty_db_url(tmp_path: Path) -> Iterator[str]:
    """A database with no schema yet."""
    yield from fresh_database(tmp_path, migrate=False)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(LLM_INCIDENT_DATA_DIR=tmp_path)


@pytest.fixture(autouse=True)
def _no_real_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """No test may reach AWS or Anthropic: no ambient credentials, no profile, no key."""
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    # Nor Anthropic: a key exported in a developer's shell must not turn the LLM on.
    for name in (
        "ANTHROPIC_API_KEY",
        "ANTHROPIC_AUTH_TOKEN",
        "ANTHROPIC_BASE_URL",
        "ANTHROPIC_BEDROCK_BASE_URL",
        "LLM_PROVIDER",
        "LLM_MODEL",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("ANTHROPIC_CONFIG_DIR", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/dev/null")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
