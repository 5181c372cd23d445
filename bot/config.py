"""Settings, read from the environment first and from `.env` second.

One `Settings` object is built at the edge (the command line, the Lambda handler)
and passed down; nothing reads the environment behind its back. Secrets are
`SecretStr` so that a settings object printed into a log shows `**********`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import BadInputError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_RUNBOOKS = PROJECT_ROOT / "runbooks"
BUNDLED_SCENARIOS = PROJECT_ROOT / "scenarios"
DEFAULT_MODELS = {"anthropic": "claude-sonnet-5-5", "bedrock": "us.anthropic.claude-sonnet-5-5"}


class ConfigError(BadInputError):
    """A setting is missing or malformed; the message names it."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        populate_by_name=True,
        enable_decoding=False,  # lists are comma-separated, not JSON
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
    allowed_channels: list[str] = Field(
        default_factory=list, validation_alias="LLM_INCIDENT_ALLOWED_CHANNELS"
    )
    allowed_usergroups: list[str] = Field(
        default_factory=list, validation_alias="LLM_INCIDENT_ALLOWED_USERGROUPS"
    )
    sqs_queue_url: str | None = Field(default=None, validation_alias="LLM_INCIDENT_SQS_QUEUE_URL")
    database_url: str | None = Field(default=None, validation_alias="DATABASE_URL")
    db_retry_s: float = Field(
        default=20.0, ge=0, le=600, validation_alias="LLM_INCIDENT_DB_RETRY_SECONDS"
    )
    auto_migrate: bool = Field(default=False, validation_alias="LLM_INCIDENT_AUTO_MIGRATE")
    job_lease_s: float = Field(
        default=60.0, ge=1, le=3600, validation_alias="LLM_INCIDENT_JOB_LEASE_SECONDS"
    )
    grouping_window_minutes: int = Field(
        default=30, ge=1, le=24 * 60, validation_alias="LLM_INCIDENT_GROUPING_MINUTES"
    )
    analysis_workers: int = Field(
        default=4, ge=1, le=64, validation_alias="LLM_INCIDENT_ANALYSIS_WORKERS"
    )

    # LLM. Without a provider (no key, LLM_PROVIDER=none) the triage result is the analysis.
    llm_provider: Literal["anthropic", "bedrock", "none"] | None = Field(
        default=None, validation_alias="LLM_PROVIDER"
    )
    anthropic_api_key: SecretStr | None = Field(default=None, validation_alias="ANTHROPIC_API_KEY")
    anthropic_base_url: str | None = Field(default=None, validation_alias="ANTHROPIC_BASE_URL")
    llm_model: str | None = Field(default=None, validation_alias="LLM_MODEL")
    llm_fallback_model: str | None = Field(default=None, validation_alias="LLM_FALLBACK_MODEL")
    llm_max_steps: int = Field(default=8, ge=1, le=40, validation_alias="LLM_MAX_STEPS")
    llm_max_input_tokens: int = Field(
        default=150_000, ge=1000, validation_alias="LLM_MAX_INPUT_TOKENS"
    )
    llm_deadline_s: float = Field(
        default=90.0, gt=0, le=900, validation_alias="LLM_DEADLINE_SECONDS"
    )
    llm_max_cost_usd: float = Field(default=0.50, gt=0, validation_alias="LLM_MAX_COST_USD")
    llm_tool_result_tokens: int = Field(
        default=2000, ge=100, le=50_000, validation_alias="LLM_TOOL_RESULT_TOKENS"
    )
    llm_max_output_tokens: int = Field(
        default=4096, ge=256, le=64_000, validation_alias="LLM_MAX_OUTPUT_TOKENS"
    )
    llm_request_timeout_s: float = Field(
        default=60.0, gt=0, le=600, validation_alias="LLM_REQUEST_TIMEOUT_SECONDS"
    )
    llm_max_retries: int = Field(default=2, ge=0, le=5, validation_alias="LLM_MAX_RETRIES")
    llm_max_retry_wait_s: float = Field(
        default=10.0, ge=0, le=120, validation_alias="LLM_MAX_RETRY_WAIT_SECONDS"
    )

    # Telemetry of the bot itself (bot/telemetry.py) and the weekly digest.
    otlp_endpoint: str | None = Field(default=None, validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT")
    telemetry_file: Path | None = Field(
        default=None, validation_alias="LLM_INCIDENT_TELEMETRY_FILE"
    )
    capture_message_content: bool = Field(
        default=False, validation_alias="OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT"
    )
    otel_service_name: str = Field(default="llm-incident", validation_alias="OTEL_SERVICE_NAME")
    metric_export_interval_ms: float = Field(
        default=60_000, ge=100, validation_alias="OTEL_METRIC_EXPORT_INTERVAL"
    )
    emf_namespace: str = Field(default="LLMIncident", validation_alias="LLM_INCIDENT_EMF_NAMESPACE")
    digest_cron: str = Field(default="0 9 * * mon", validation_alias="LLM_INCIDENT_DIGEST_CRON")

    @field_validator("allowed_channels", "allowed_usergroups", mode="before")
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """`#oncall,C0123` in the environment; a list when built in code."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @model_validator(mode="after")
    def _llm_defaults(self) -> Settings:
        """An Anthropic key alone turns the LLM on; each provider has a default model."""
        if self.llm_provider is None:
            self.llm_provider = "anthropic" if self.anthropic_api_key else "none"
        if self.llm_model is None:
            self.llm_model = DEFAULT_MODELS.get(self.llm_provider)
        return self


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
