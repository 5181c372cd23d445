"""Settings, read from the environment first and from `.env` second.

One `Settings` object is built at the edge (the command line, the Lambda handler)
and passed down; nothing reads the environment behind its back. Secrets are
`SecretStr` so that a settings object printed into a log shows `**********`.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_RUNBOOKS = PROJECT_ROOT / "runbooks"
BUNDLED_SCENARIOS = PROJECT_ROOT / "scenarios"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    # AWS. boto3 reads AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_<SERVICE> and credentials itself;
    # the region is read here so that it has a default.
    aws_region: str = Field(default="us-east-1", validation_alias="AWS_REGION")
    aws_endpoint_url: str | None = Field(default=None, validation_alias="AWS_ENDPOINT_URL")

    # Investigation.
    catalog: Path | None = Field(default=None, validation_alias="LLM_INCIDENT_CATALOG")
    runbooks_dir: Path = Field(default=BUNDLED_RUNBOOKS, validation_alias="LLM_INCIDENT_RUNBOOKS")
    lookback_minutes: int = Field(
        default=90, ge=10, le=24 * 60, validation_alias="LLM_INCIDENT_LOOKBACK_MINUTES"
    )
    change_lookback_hours: int = Field(
        default=24, ge=1, le=90 * 24, validation_alias="LLM_INCIDENT_CHANGE_LOOKBACK_HOURS"
    )
    evidence_deadline_s: float = Field(
        default=30.0, gt=0, le=600, validation_alias="LLM_INCIDENT_EVIDENCE_DEADLINE"
    )
    cloudtrail_log_group: str = Field(
        default="aws-cloudtrail-logs", validation_alias="LLM_INCIDENT_CLOUDTRAIL_LOG_GROUP"
    )
    data_dir: Path = Field(default=Path("data"), validation_alias="LLM_INCIDENT_DATA_DIR")

    # Slack.
    slack_bot_token: SecretStr | None = Field(default=None, validation_alias="SLACK_BOT_TOKEN")
    slack_signing_secret: SecretStr | None = Field(
        default=None, validation_alias="SLACK_SIGNING_SECRET"
    )
    slack_app_token: SecretStr | None = Field(default=None, validation_alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", validation_alias="SLACK_API_URL")
    default_channel: str | None = Field(
        default=None, validation_alias="LLM_INCIDENT_DEFAULT_CHANNEL"
    )
    sqs_queue_url: str | None = Field(default=None, validation_alias="LLM_INCIDENT_SQS_QUEUE_URL")
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")


def load_settings(**overrides: object) -> Settings:
    """Build settings, turning pydantic's report into one line per bad variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            name = ".".join(str(part) for part in error["loc"]) or "settings"
            lines.append(f"{name}: {error['msg']}")
        raise ConfigError("invalid configuration: " + "; ".join(lines)) from exc
