"""Settings, read from the environment first and from `.env` second.

One `Settings` object is built at the edge (the command line, the Lambda handler)
and passed down; nothing reads the environment behind its back. Secrets are
`SecretStr` so that a settings object printed into a log shows `**********`.
"""

from __future__ import annotations

import re
from pathlib import Path
from types import UnionType
from typing import Literal, Union, get_args, get_origin

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.fields import FieldInfo
from pydantic_settings import BaseSettings, SettingsConfigDict

from bot.errors import BadInputError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_RUNBOOKS = PROJECT_ROOT / "runbooks"
BUNDLED_SCENARIOS = PROJECT_ROOT / "scenarios"
DEFAULT_MODELS = {"anthropic": "claude-sonnet-5-5", "bedrock": "us.anthropic.claude-sonnet-5-5"}
ACCOUNT_ID = re.compile(r"^\d{12}$")
TOPIC_ARN = re.compile(r"^arn:aws[a-z-]*:sns:[a-z0-9-]+:\d{12}:[A-Za-z0-9_.-]{1,256}$")


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
    aws_region: str = Field(
        default="us-east-1", validation_alias="AWS_REGION", description="Region of the alarms."
    )
    aws_endpoint_url: str | None = Field(
        default=None,
        validation_alias="AWS_ENDPOINT_URL",
        description="boto3's own endpoint override (an emulator, a VPC endpoint); boto3 also "
        "reads `AWS_ENDPOINT_URL_<SERVICE>` for one service. Unset: AWS.",
    )

    # Investigation.
    catalog: Path | None = Field(
        default=None,
        validation_alias="LLM_INCIDENT_CATALOG",
        description="Service catalog YAML: `services:` entries in the scenario `service` "
        "schema. Unset: alarms are investigated from their own metric.",
    )
    runbooks_dir: Path = Field(
        default=BUNDLED_RUNBOOKS,
        validation_alias="LLM_INCIDENT_RUNBOOKS",
        description="Folder of runbooks (Markdown files with YAML front matter).",
    )
    lookback_minutes: int = Field(
        default=90,
        ge=10,
        le=24 * 60,
        validation_alias="LLM_INCIDENT_LOOKBACK_MINUTES",
        description="Minutes of metrics, logs and traces looked at before the alarm.",
    )
    change_lookback_hours: int = Field(
        default=24,
        ge=1,
        le=90 * 24,
        validation_alias="LLM_INCIDENT_CHANGE_LOOKBACK_HOURS",
        description="Hours of CloudTrail changes looked at before the onset.",
    )
    evidence_deadline_s: float = Field(
        default=30.0,
        gt=0,
        le=600,
        validation_alias="LLM_INCIDENT_EVIDENCE_DEADLINE",
        description="Seconds all evidence sources share.",
    )
    cloudtrail_log_group: str = Field(
        default="aws-cloudtrail-logs",
        validation_alias="LLM_INCIDENT_CLOUDTRAIL_LOG_GROUP",
        description="CloudWatch Logs group a trail delivers to, read where `LookupEvents` "
        "is unavailable.",
    )
    data_dir: Path = Field(
        default=Path("data"),
        validation_alias="LLM_INCIDENT_DATA_DIR",
        description="Where the SQLite file (`llm-incident.db`) lives when `DATABASE_URL` is unset.",
    )

    # Slack.
    slack_bot_token: SecretStr | None = Field(
        default=None,
        validation_alias="SLACK_BOT_TOKEN",
        description="Bot token (`xoxb-…`); required by `serve`.",
    )
    slack_signing_secret: SecretStr | None = Field(
        default=None,
        validation_alias="SLACK_SIGNING_SECRET",
        description="Verifies requests from Slack; required in HTTP mode and on Lambda.",
    )
    slack_app_token: SecretStr | None = Field(
        default=None,
        validation_alias="SLACK_APP_TOKEN",
        description="App-level token (`xapp-…`); Socket Mode when set.",
    )
    slack_api_url: str = Field(
        default="https://slack.com/api/",
        validation_alias="SLACK_API_URL",
        description="Slack Web API base URL.",
    )
    default_channel: str | None = Field(
        default=None,
        validation_alias="LLM_INCIDENT_DEFAULT_CHANNEL",
        description="Channel for services without `slack_channel`, and of the weekly digest.",
    )
    allowed_channels: list[str] = Field(
        default_factory=list,
        validation_alias="LLM_INCIDENT_ALLOWED_CHANNELS",
        description="Comma-separated channel ids or names where `/llm-incident` may be used. "
        "Empty: any channel.",
    )
    allowed_usergroups: list[str] = Field(
        default_factory=list,
        validation_alias="LLM_INCIDENT_ALLOWED_USERGROUPS",
        description="Comma-separated Slack user group ids (`S…`) whose members may use "
        "`/llm-incident` (needs `usergroups:read`). Empty: anyone.",
    )
    allowed_accounts: list[str] = Field(
        default_factory=list,
        validation_alias="LLM_INCIDENT_ALLOWED_ACCOUNTS",
        description="Comma-separated 12-digit AWS account ids whose alarms the bot takes: an "
        "SNS notification's topic owner, an EventBridge event's account, an alarm's own "
        "account otherwise. Others are refused (403 on `/aws/sns`, a logged and counted skip "
        "on Lambda and SQS). Empty: any sender (`check-config` warns in HTTP mode).",
    )
    allowed_topics: list[str] = Field(
        default_factory=list,
        validation_alias="LLM_INCIDENT_ALLOWED_TOPICS",
        description="Comma-separated SNS topic ARNs: narrows `LLM_INCIDENT_ALLOWED_ACCOUNTS` "
        "to these topics for SNS deliveries (subscriptions of other topics are not confirmed). "
        "Empty: any topic of an allowed account.",
    )
    sns_max_age_s: int = Field(
        default=3600,
        ge=60,
        le=7 * 24 * 3600,
        validation_alias="LLM_INCIDENT_SNS_MAX_AGE",
        description="Seconds an SNS message's signed `Timestamp` may be old on `/aws/sns`; an "
        "older one is refused as stale (400).",
    )
    sqs_queue_url: str | None = Field(
        default=None,
        validation_alias="LLM_INCIDENT_SQS_QUEUE_URL",
        description="Queue of SNS-wrapped alarm notifications or EventBridge alarm events, "
        "long-polled by `serve`.",
    )
    database_url: str | None = Field(
        default=None,
        validation_alias="DATABASE_URL",
        description="SQLAlchemy URL (PostgreSQL for several processes). "
        "Unset: SQLite in `LLM_INCIDENT_DATA_DIR`.",
    )
    db_retry_s: float = Field(
        default=20.0,
        ge=0,
        le=600,
        validation_alias="LLM_INCIDENT_DB_RETRY_SECONDS",
        description="Seconds a database call keeps retrying while the database is unreachable.",
    )
    auto_migrate: bool = Field(
        default=False,
        validation_alias="LLM_INCIDENT_AUTO_MIGRATE",
        description="`true` brings the schema up to date at start (one process, or Lambda); "
        "else run `llm-incident db upgrade`.",
    )
    job_lease_s: float = Field(
        default=60.0,
        ge=1,
        le=3600,
        validation_alias="LLM_INCIDENT_JOB_LEASE_SECONDS",
        description="Seconds of lease on a running analysis; a job whose owner stopped "
        "renewing it is taken over.",
    )
    memory_max_prior: float = Field(
        default=0.15,
        ge=0.0,
        le=0.3,
        validation_alias="LLM_INCIDENT_MEMORY_MAX_PRIOR",
        description="How far confirmed causes of similar past incidents of the service may "
        "raise a hypothesis' confidence (0 shows past incidents without raising anything).",
    )
    grouping_window_minutes: int = Field(
        default=30,
        ge=1,
        le=24 * 60,
        validation_alias="LLM_INCIDENT_GROUPING_MINUTES",
        description="An alarm of a service with an incident opened within this many minutes "
        "joins its thread.",
    )
    analysis_workers: int = Field(
        default=4,
        ge=1,
        le=64,
        validation_alias="LLM_INCIDENT_ANALYSIS_WORKERS",
        description="Analyses one process runs at once.",
    )

    # LLM. Without a provider (no key, LLM_PROVIDER=none) the triage result is the analysis.
    llm_provider: Literal["anthropic", "bedrock", "none"] | None = Field(
        default=None,
        validation_alias="LLM_PROVIDER",
        description="Who answers: the Claude API, Amazon Bedrock, or no LLM (the triage is "
        "the analysis). Unset: `anthropic` when `ANTHROPIC_API_KEY` is set, else `none`.",
    )
    anthropic_api_key: SecretStr | None = Field(
        default=None,
        validation_alias="ANTHROPIC_API_KEY",
        description="Claude API key (never logged, never in a prompt).",
    )
    anthropic_base_url: str | None = Field(
        default=None,
        validation_alias="ANTHROPIC_BASE_URL",
        description="Claude API base URL (a gateway, a test fake). Unset: the SDK's.",
    )
    llm_model: str | None = Field(
        default=None,
        validation_alias="LLM_MODEL",
        description="Model id (Bedrock: an inference profile id). "
        f"Unset: `{DEFAULT_MODELS['anthropic']}`; Bedrock `{DEFAULT_MODELS['bedrock']}`.",
    )
    llm_fallback_model: str | None = Field(
        default=None,
        validation_alias="LLM_FALLBACK_MODEL",
        description="Model used when the first answers 529 overloaded.",
    )
    llm_max_steps: int = Field(
        default=8,
        ge=1,
        le=40,
        validation_alias="LLM_MAX_STEPS",
        description="Messages API calls per investigation, the forced last one included.",
    )
    llm_max_input_tokens: int = Field(
        default=150_000,
        ge=1000,
        validation_alias="LLM_MAX_INPUT_TOKENS",
        description="Input tokens per investigation (uncached, cache writes and cache reads).",
    )
    llm_deadline_s: float = Field(
        default=90.0,
        gt=0,
        le=900,
        validation_alias="LLM_DEADLINE_SECONDS",
        description="Seconds of wall clock for the LLM part of an investigation.",
    )
    llm_max_cost_usd: float = Field(
        default=0.50,
        gt=0,
        validation_alias="LLM_MAX_COST_USD",
        description="Dollars per investigation, from the price table in `bot/agent/pricing.py`.",
    )
    llm_tool_result_tokens: int = Field(
        default=2000,
        ge=100,
        le=50_000,
        validation_alias="LLM_TOOL_RESULT_TOKENS",
        description="Cap in tokens on each tool result the model reads.",
    )
    llm_max_output_tokens: int = Field(
        default=4096,
        ge=256,
        le=64_000,
        validation_alias="LLM_MAX_OUTPUT_TOKENS",
        description="`max_tokens` of each call.",
    )
    llm_request_timeout_s: float = Field(
        default=60.0,
        gt=0,
        le=600,
        validation_alias="LLM_REQUEST_TIMEOUT_SECONDS",
        description="Timeout of each call, in seconds.",
    )
    llm_max_retries: int = Field(
        default=2,
        ge=0,
        le=5,
        validation_alias="LLM_MAX_RETRIES",
        description="Retries of a call on 429, 5xx, 529 and connection errors.",
    )
    llm_max_retry_wait_s: float = Field(
        default=10.0,
        ge=0,
        le=120,
        validation_alias="LLM_MAX_RETRY_WAIT_SECONDS",
        description="Longest `retry-after` honoured, in seconds; a longer one ends the LLM part.",
    )

    # Telemetry of the bot itself (bot/observe/telemetry.py) and the weekly digest.
    otlp_endpoint: str | None = Field(
        default=None,
        validation_alias="OTEL_EXPORTER_OTLP_ENDPOINT",
        description="OTLP/HTTP collector base URL for the bot's own traces and metrics "
        "(`/v1/traces`, `/v1/metrics`); `OTEL_EXPORTER_OTLP_HEADERS` is honoured.",
    )
    telemetry_file: Path | None = Field(
        default=None,
        validation_alias="LLM_INCIDENT_TELEMETRY_FILE",
        description="JSON-lines file: one object per finished span and per metric point.",
    )
    capture_message_content: bool = Field(
        default=False,
        validation_alias="OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT",
        description="`true` records prompts, answers, tool arguments and results on the spans.",
    )
    otel_service_name: str = Field(
        default="llm-incident",
        validation_alias="OTEL_SERVICE_NAME",
        description="`service.name` of the telemetry.",
    )
    metric_export_interval_ms: float = Field(
        default=60_000,
        ge=100,
        validation_alias="OTEL_METRIC_EXPORT_INTERVAL",
        description="Milliseconds between metric exports (OTLP, file).",
    )
    emf_namespace: str = Field(
        default="LLMIncident",
        validation_alias="LLM_INCIDENT_EMF_NAMESPACE",
        description="CloudWatch namespace of the EMF metrics on Lambda.",
    )
    digest_cron: str = Field(
        default="0 9 * * mon",
        validation_alias="LLM_INCIDENT_DIGEST_CRON",
        description="Crontab line (UTC) of the weekly digest in "
        "`LLM_INCIDENT_DEFAULT_CHANNEL`; `off` turns it off.",
    )

    @field_validator(
        "allowed_channels",
        "allowed_usergroups",
        "allowed_accounts",
        "allowed_topics",
        mode="before",
    )
    @classmethod
    def _comma_separated(cls, value: object) -> object:
        """`#oncall,C0123` in the environment; a list when built in code."""
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("allowed_accounts", "allowed_topics")
    @classmethod
    def _senders(cls, value: list[str], info: ValidationInfo) -> list[str]:
        """Account ids of 12 digits, SNS topic ARNs: a typo fails at start, not silently."""
        pattern, what = {
            "allowed_accounts": (ACCOUNT_ID, "a 12-digit account id"),
            "allowed_topics": (TOPIC_ARN, "an SNS topic ARN"),
        }[str(info.field_name)]
        bad = [item for item in value if not pattern.match(item)]
        if bad:
            raise ValueError(f"not {what}: {bad[0][:80]!r}")
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


# The sections of `Settings` as its comments draw them: the first field of each, in order.
_SECTIONS = {
    "aws_region": "AWS",
    "catalog": "Investigation",
    "slack_bot_token": "Slack, the alarm queue and the database",
    "llm_provider": "LLM",
    "otlp_endpoint": "Telemetry of the bot itself and the weekly digest",
}


def settings_reference() -> str:
    """Every setting as Markdown tables, one per section of `Settings`: the variable, its
    meaning (the field's `description`), its default and the values it accepts.

    docs/configuration.md holds this text between its `settings:start` / `settings:end`
    markers (tests/docs/test_configuration.py keeps the two equal); after changing a field,
    rewrite it there with `.venv/bin/python -m tests.docs.regenerate`.
    """
    lines: list[str] = []
    for name, field in Settings.model_fields.items():
        if name in _SECTIONS:
            if lines:
                lines.append("")
            lines += [
                f"### {_SECTIONS[name]}",
                "",
                "| variable | meaning | default | accepts |",
                "| --- | --- | --- | --- |",
            ]
        cells = (
            f"`{field.validation_alias}`",
            field.description or "",
            _default_text(field),
            _accepts_text(field),
        )
        lines.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return "\n".join(lines) + "\n"


def _default_text(field: FieldInfo) -> str:
    value = field.get_default(call_default_factory=True)
    if value is None:
        return "unset"
    if value == []:
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, Path):
        if value.is_absolute() and value.is_relative_to(PROJECT_ROOT):
            return f"`{value.relative_to(PROJECT_ROOT).as_posix()}/` (bundled)"
        return f"`{value.as_posix()}`"
    return f"`{_number(value) if isinstance(value, int | float) else value}`"


def _accepts_text(field: FieldInfo) -> str:
    annotation = field.annotation
    union = get_origin(annotation) in (Union, UnionType)
    kinds = (
        [arg for arg in get_args(annotation) if arg is not type(None)] if union else [annotation]
    )
    literal = next((kind for kind in kinds if get_origin(kind) is Literal), None)
    if literal is not None:
        return ", ".join(f"`{value}`" for value in get_args(literal))
    if bool in kinds:
        return "`true`, `false`"
    if list[str] in kinds:
        return "comma-separated list"
    if SecretStr in kinds:
        return "secret (printed as `**********`)"
    if Path in kinds:
        return "path"
    if int in kinds or float in kinds:
        return ", ".join(["integer" if int in kinds else "number", *_bounds(field)])
    return "text"


def _bounds(field: FieldInfo) -> list[str]:
    """`10 ≤ x ≤ 1440`, `0 < x ≤ 600`, `x ≥ 1000`: the field's ge/gt/le/lt, if any."""
    found = {
        key: getattr(bound, key)
        for bound in field.metadata
        for key in ("ge", "gt", "le", "lt")
        if getattr(bound, key, None) is not None
    }
    low = ("≤", "≥", found["ge"]) if "ge" in found else None
    low = ("<", ">", found["gt"]) if "gt" in found else low
    high = ("≤", found["le"]) if "le" in found else None
    high = ("<", found["lt"]) if "lt" in found else high
    if low and high:
        return [f"{_number(low[2])} {low[0]} x {high[0]} {_number(high[1])}"]
    if low:
        return [f"x {low[1]} {_number(low[2])}"]
    if high:
        return [f"x {high[0]} {_number(high[1])}"]
    return []


def _number(value: float) -> str:
    """`30.0` as `30`, `0.5` as `0.5`: numbers as one would write them in the environment."""
    return str(int(value)) if float(value).is_integer() else str(value)
