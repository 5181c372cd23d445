"""Domain types every part of llm-incident shares.

They sit at the boundaries: an alarm parsed from SNS, a catalog entry, a
hypothesis from triage or from Claude, the investigation printed as JSON.
Keeping them in one small module means the Slack layer, the store and the
agent all speak about the same things in the same words.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from tools.base import utc


class Category(StrEnum):
    """The root-cause taxonomy (docs/taxonomy.md)."""

    MODEL_THROTTLING = "model_throttling"
    MODEL_PROVIDER_DEGRADATION = "model_provider_degradation"
    BAD_DEPLOYMENT = "bad_deployment"
    PROMPT_REGRESSION = "prompt_regression"
    TOKEN_COST_SPIKE = "token_cost_spike"  # noqa: S105 (a category id, not a secret)
    GUARDRAIL_ABUSE = "guardrail_abuse"
    RETRIEVAL_FAILURE = "retrieval_failure"
    DEPENDENCY_FAILURE = "dependency_failure"
    COMPUTE_SATURATION = "compute_saturation"
    ACCESS_DENIED = "access_denied"
    INPUT_VALIDATION_ERRORS = "input_validation_errors"


CATEGORY_TITLES: dict[Category, str] = {
    Category.MODEL_THROTTLING: "Model throttling",
    Category.MODEL_PROVIDER_DEGRADATION: "Model provider degradation",
    Category.BAD_DEPLOYMENT: "Bad deployment",
    Category.PROMPT_REGRESSION: "Prompt regression",
    Category.TOKEN_COST_SPIKE: "Token cost spike",
    Category.GUARDRAIL_ABUSE: "Guardrail abuse",
    Category.RETRIEVAL_FAILURE: "Retrieval failure",
    Category.DEPENDENCY_FAILURE: "Dependency failure",
    Category.COMPUTE_SATURATION: "Compute saturation",
    Category.ACCESS_DENIED: "Access denied",
    Category.INPUT_VALIDATION_ERRORS: "Input validation errors",
}


class AlarmState(StrEnum):
    ALARM = "ALARM"
    OK = "OK"
    INSUFFICIENT_DATA = "INSUFFICIENT_DATA"


class AlarmKind(StrEnum):
    """What an alarm watches: one metric, a math expression over several, an anomaly
    band, a Metrics Insights query, or other alarms (a composite)."""

    METRIC = "metric"
    MATH = "math"
    ANOMALY = "anomaly"
    INSIGHTS = "insights"
    COMPOSITE = "composite"


class AlarmMetric(BaseModel):
    """One metric a math or anomaly alarm reads (a `MetricStat` of its query)."""

    model_config = ConfigDict(frozen=True)

    id: str = ""
    namespace: str = ""
    metric: str = ""
    dimensions: dict[str, str] = Field(default_factory=dict)
    statistic: str = "Average"
    period: int = Field(default=60, ge=1)


class Alarm(BaseModel):
    """A CloudWatch alarm at the moment its state changed.

    `changed_at` is T0, the moment the alarm went to its new state. Everything the
    investigation looks at is placed relative to it. `namespace`, `metric` and
    `dimensions` are set only when the alarm watches one metric (`kind` metric); a math,
    anomaly or Metrics Insights alarm keeps its `expression` and the `metrics` it reads,
    a composite its `rule` and the `children` that triggered it. `region` and `account`
    are empty when the payload did not say (the bot then uses its own). `muted_by` says
    why the alarm's actions were muted or suppressed, if they were.
    """

    model_config = ConfigDict(frozen=True)

    name: str = Field(min_length=1, max_length=255)
    description: str = ""
    namespace: str = ""
    metric: str = ""
    dimensions: dict[str, str] = Field(default_factory=dict)
    statistic: str = "Average"
    period: int = Field(default=60, ge=1)
    evaluation_periods: int = Field(default=1, ge=1)
    threshold: float = 0.0
    comparison: str = "GreaterThanThreshold"
    state: AlarmState = AlarmState.ALARM
    previous_state: AlarmState | None = None
    reason: str = ""
    changed_at: datetime
    region: str = "us-east-1"
    account: str = ""
    arn: str = ""
    kind: AlarmKind = AlarmKind.METRIC
    expression: str = ""
    metrics: list[AlarmMetric] = Field(default_factory=list)
    rule: str = ""
    children: list[str] = Field(default_factory=list)
    muted_by: str = ""

    @field_validator("changed_at")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        return utc(value)

    @property
    def evaluation_start(self) -> datetime:
        """When the periods the alarm evaluated began: the onset when nothing better is
        known (no metric, no datapoints, no change point)."""
        return self.changed_at - timedelta(seconds=self.period * self.evaluation_periods)

    @property
    def rising(self) -> bool:
        """Whether the alarm fires on values above the threshold (the usual case)."""
        return "Greater" in self.comparison

    @property
    def muted(self) -> bool:
        return bool(self.muted_by)

    def all_dimensions(self) -> dict[str, str]:
        """The dimensions of its own metric and of every metric it reads: what names the
        alarm's resources, whatever its kind."""
        found = dict(self.dimensions)
        for metric in self.metrics:
            for key, value in metric.dimensions.items():
                found.setdefault(key, value)
        return found


class GuardrailRef(BaseModel):
    id: str = Field(min_length=1)
    version: str = "DRAFT"

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value


class BedrockConfig(BaseModel):
    model_ids: list[str] = Field(default_factory=list)
    guardrails: list[GuardrailRef] = Field(default_factory=list)
    knowledge_bases: list[str] = Field(default_factory=list)
    invocation_log_group: str | None = None
    # Where a cross-region inference profile's calls may run, when narrower than its
    # geography (a `global.` profile routes to every commercial region).
    regions: list[str] = Field(default_factory=list)


class ServiceEntry(BaseModel):
    """One service of the catalog (the `service` map of a scenario has the same shape).

    A service in another account names that `account` and the `role_arn` the bot
    assumes there to read its telemetry (with the `external_id` the role's trust policy
    asks for, if any)."""

    name: str = Field(min_length=1)
    description: str = ""
    team: str = ""
    slack_channel: str | None = None
    lambda_functions: list[str] = Field(default_factory=list)
    log_groups: list[str] = Field(default_factory=list)
    xray_service_names: list[str] = Field(default_factory=list)
    bedrock: BedrockConfig = Field(default_factory=BedrockConfig)
    dependencies: list[str] = Field(default_factory=list)
    # 1.1: Bedrock AgentCore runtime ids (`support_agent-Xy12AbCd34`): their metrics carry
    # the runtime ARN (`Resource`) and `<name>::<endpoint>` (`Name`), their logs go to
    # `/aws/bedrock-agentcore/runtimes/<id>-<endpoint>`.
    agent_runtimes: list[str] = Field(default_factory=list)
    # 1.1: where the service's OpenTelemetry spans are stored (Transaction Search's group).
    spans_log_group: str = Field(default="aws/spans", min_length=1, max_length=512)
    account: str | None = Field(default=None, pattern=r"^\d{12}$")
    role_arn: str | None = Field(
        default=None,
        max_length=2048,
        pattern=r"^arn:aws[a-z-]*:iam::\d{12}:role/[A-Za-z0-9+=,.@_/-]+$",
    )
    external_id: str | None = Field(default=None, min_length=2, max_length=1224)

    @model_validator(mode="after")
    def _role_in_its_account(self) -> ServiceEntry:
        if self.role_arn and self.account and self.role_arn.split(":")[4] != self.account:
            raise ValueError(f"role_arn {self.role_arn} is not in account {self.account}")
        if self.external_id and not self.role_arn:
            raise ValueError("external_id needs a role_arn")
        return self

    @property
    def role_account(self) -> str | None:
        """The account the service's telemetry lives in, when it is not the bot's own."""
        return self.account or (self.role_arn.split(":")[4] if self.role_arn else None)

    def resource_names(self) -> list[str]:
        """Names that appear as metric or alarm dimension values of the service's resources."""
        names = [*self.lambda_functions, *self.bedrock.model_ids]
        names += [guardrail.id for guardrail in self.bedrock.guardrails]
        names += self.bedrock.knowledge_bases
        names += self.agent_runtimes  # an AgentCore metric's `Resource` ARN ends with the id
        names += [d.split(":", 1)[1] for d in self.dependencies if ":" in d and "//" not in d]
        return [name for name in names if name]

    def all_log_groups(self) -> list[str]:
        """The service's log groups, plus the Bedrock invocation log group if it has one."""
        groups = list(self.log_groups)
        extra = self.bedrock.invocation_log_group
        if extra and extra not in groups:
            groups.append(extra)
        return groups


class Hypothesis(BaseModel):
    """One ranked explanation of the incident, with what supports it."""

    category: Category
    confidence: float = Field(ge=0.0, le=1.0)
    title: str
    evidence: list[str] = Field(default_factory=list)
    remediation: list[str] = Field(default_factory=list)
    runbook: str | None = None
    # What argues against it: a check that came back empty ("throttles flat", "no change
    # on our side before onset"), so a reader weighs support against what was not seen.
    counter_evidence: list[str] = Field(default_factory=list)


class Verdict(StrEnum):
    """Whether the analysis names a cause (`determined`) or abstains (`undetermined`: no
    hypothesis cleared the calibrated threshold; the two best are named instead)."""

    DETERMINED = "determined"
    UNDETERMINED = "undetermined"


class Usage(BaseModel):
    """What an analysis cost in tokens and dollars."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cost_usd: float = 0.0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            input_tokens=self.input_tokens + other.input_tokens,
            output_tokens=self.output_tokens + other.output_tokens,
            cache_read_input_tokens=self.cache_read_input_tokens + other.cache_read_input_tokens,
            cache_creation_input_tokens=self.cache_creation_input_tokens
            + other.cache_creation_input_tokens,
            cost_usd=round(self.cost_usd + other.cost_usd, 6),
        )


class Fingerprint(BaseModel):
    """What an incident looked like, stored with each analysis so that a later one of the
    same service can be recognised as a recurrence (`bot.engine.memory`)."""

    service: str
    alarm: str
    category: Category | None = None  # the analysis' top category
    signatures: list[str] = Field(default_factory=list)  # normalised top error signatures
    change_kind: str | None = None  # e.g. `lambda:UpdateFunctionConfiguration`, near onset
    # What the evidence could not show: "signatures" (logs unreadable), "change" (CloudTrail
    # unreadable). Unknown is not different: similarity leaves such parts out.
    unread: list[str] = Field(default_factory=list)


class PastIncident(BaseModel):
    """An earlier incident of the same service, with what the team confirmed about it."""

    incident_id: int
    analysis_id: int
    opened_at: datetime
    fingerprint: Fingerprint
    verdict: str = (
        "unrated"  # confirmed (👍) | corrected (👎 with the real cause) | rejected | unrated
    )
    confirmed: Category | None = None  # the cause the team confirmed, when it did
    notes: list[str] = Field(default_factory=list)  # what the 👎 modal said was wrong
    resolution: str | None = None  # what fixed it, as written in the thread
    similarity: float = 0.0  # to the incident at hand, 0..1
    link: str | None = None  # the old thread

    @field_validator("opened_at")
    @classmethod
    def _as_utc(cls, value: datetime) -> datetime:
        return utc(value)


class Investigation(BaseModel):
    """The result of investigating one alarm: the contract of `investigate --json`."""

    service: str
    alarm: str
    hypotheses: list[Hypothesis]
    evidence_tokens: int
    verdict: Verdict = Verdict.DETERMINED
    # When undetermined: what evidence would tell the two best candidates apart.
    separating: list[str] = Field(default_factory=list)
    onset: datetime | None = None
    missing: list[str] = Field(default_factory=list)
    # What the evidence read where it read less than everything there was (busy log
    # groups, X-Ray, CloudTrail): one line per source, so a reader knows what counts mean.
    sampling: list[str] = Field(default_factory=list)
    source: str = "triage"
    fallback_reason: str | None = None
    steps: int = 0
    prompt_version: str | None = None
    model: str | None = None  # the model that answered (the fallback model when it had to)
    usage: Usage = Field(default_factory=Usage)
    fingerprint: Fingerprint | None = None  # what the triage saw, before any prior or LLM
    seen_before: list[PastIncident] = Field(default_factory=list)  # similar past incidents

    @property
    def top(self) -> Hypothesis | None:
        return self.hypotheses[0] if self.hypotheses else None


def parse_utc(raw: object) -> datetime | None:
    """A stored ISO timestamp (JSON columns keep them as text) as an aware datetime."""
    if not raw:
        return None
    try:
        at = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo else at.replace(tzinfo=UTC)
