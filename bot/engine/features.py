"""What changed, in the terms triage reasons with.

The evidence bundle holds tool results; this module reads them into the facts an
SRE would pull out: which series moved, which error lines are new (and of which
kind), which trace segment got slower or started failing, which side of the
guardrail intervenes more, and which change landed how long before the onset.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from bot.engine.evidence import EvidenceBundle
from tools.base import TimeRange
from tools.changes import Change
from tools.guardrails import InvocationLogStats
from tools.logs import LambdaReports, Pattern
from tools.metrics import SeriesSummary
from tools.traces import LAMBDA_KINDS, ROOT_KINDS, SegmentChange
from tools.vocabulary import MODEL_OPERATIONS, RETRIEVAL_HINT, Family, matches

# A signal is "new or grown since onset", never just "present": its count since onset
# reaches MIN_COUNT, its rate is at least MIN_RATIO times the baseline's, and the rate
# rose by at least MIN_RISE per minute (a share by MIN_SHARE_RISE).
MIN_COUNT = 3
MIN_RATIO = 3.0
MIN_RISE = 0.2
MIN_SHARE_RISE = 0.15


def grew(
    before: float,
    after: float,
    window: TimeRange,
    *,
    min_count: float = MIN_COUNT,
    ratio: float = MIN_RATIO,
    rise: float = MIN_RISE,
) -> bool:
    """Whether a count rose across the onset: `before` counted over the baseline, `after`
    since onset, compared as rates so windows of different length compare fairly. A steady
    background (the same rate on both sides) never passes, whatever its size."""
    if after < min_count:
        return False
    rate_before = before / max(window.baseline_seconds / 60, 1e-9)
    rate_after = after / max(window.recent_seconds / 60, 1e-9)
    return rate_after >= ratio * rate_before and rate_after - rate_before >= rise


def share_grew(
    before: float,
    before_total: float,
    after: float,
    after_total: float,
    *,
    min_count: float = MIN_COUNT,
    ratio: float = 1.5,
    rise: float = MIN_SHARE_RISE,
) -> bool:
    """Whether a share (of calls, of invocations) rose across the onset: at least
    `min_count` since, `ratio` times the baseline share and `rise` more in absolute terms.
    With no baseline at all, nothing can be said to have grown."""
    if after < min_count or not after_total or not before_total:
        return False
    share_before, share_after = before / before_total, after / after_total
    return share_after >= ratio * share_before and share_after - share_before >= rise


# Words of a configuration key (an environment variable, an SSM parameter name) that make
# it a prompt or model setting. Matched on the key's own words (`SYSTEM_PROMPT`,
# `promptVersion`, `/app/prompts/system`), never on values or on any text that merely
# contains "model" or "system" (`FILESYSTEM_PATH`, `DATA_MODEL_CACHE_TTL`).
PROMPT_WORDS = frozenset(
    {"prompt", "prompts", "temperature", "persona", "instruction", "instructions", "inference"}
)
PROMPT_PAIRS = (
    ({"model"}, {"id", "arn", "name", "version"}),
    ({"max"}, {"tokens", "gen"}),
    ({"top"}, {"p", "k"}),
    ({"stop"}, {"sequences"}),
    ({"system"}, {"message", "template"}),
)
IAM_CHANGE = re.compile(
    r"^(?:Put|Delete|Attach|Detach)(?:Role|User|Group)Policy$|^(?:Create|Delete)Policy(?:Version)?$|"
    r"^SetDefaultPolicyVersion$|^UpdateAssumeRolePolicy$|PermissionsBoundary|"
    r"ModelAccess|FoundationModelAgreement|Entitlement|^PutKeyPolicy$|^RevokeGrant$|"
    r"^CreateGrant$|^(?:Put|Delete)ResourcePolicy$|^RemovePermission|^AddPermission|"
    r"^DeleteRole$|^(?:Put|Delete)BucketPolicy$|^DisableKey$|^ScheduleKeyDeletion$",
)
# Writes that change nothing a request depends on: tags, log retention, log streams,
# scheduled ingestion, sign-ins and key use. They rank below every other change.
ROUTINE_CHANGE = re.compile(
    r"^(?:Tag|Untag)|Tagging$|^(?:Put|Delete)RetentionPolicy$|^CreateLogStream$|"
    r"^StartIngestionJob$|^ConsoleLogin$|^AssumeRole|^(?:Decrypt|Encrypt|GenerateDataKey)|"
    r"^(?:Get|List|Describe|Head|Lookup|BatchGet|Search|Query|Scan)[A-Z]",
)
# An application's own field saying how a request or answer ended, and the values that
# mean it ended well.
OUTCOME_FIELD = re.compile(
    r"""\b(outcome|finish_reason|finishReason|stop_reason|stopReason|completion_reason|"""
    r"""completionReason|answer_status|status|result)"?\s*[=:]\s*"?([A-Za-z][\w-]*)""",
    re.I,
)
SUCCESS_WORDS = frozenset(
    {
        "ok",
        "success",
        "succeeded",
        "successful",
        "complete",
        "completed",
        "answered",
        "end_turn",
        "stop",
        "stop_sequence",
        "finish",
        "finished",
        "done",
        "true",
        "resolved",
        "none",
        "null",
    }
)
CONCURRENCY_CHANGE = re.compile(r"Concurrency|ProvisionedConcurrency", re.I)
DEPLOY_CHANGE = re.compile(
    r"UpdateFunctionCode|PublishVersion|UpdateAlias|CreateDeployment|UpdateService|"
    r"RegisterTaskDefinition|UpdateStack|CreateChangeSet|ExecuteChangeSet|PutImage|"
    r"UpdateApplication|StartDeployment|UpdateAgent|PrepareAgent",
    re.I,
)
GUARDRAIL_CHANGE = re.compile(r"Guardrail", re.I)


@dataclass
class Failure:
    """A new or grown log pattern that signals a failure, with what it names."""

    pattern: Pattern
    markers: list[str]

    @property
    def text(self) -> str:
        return self.pattern.said

    def has(self, *terms: Family | str) -> bool:
        """Whether the line carries one of the terms: a vocabulary family's signature or a
        phrase, as whole tokens."""
        return matches(" ".join([self.text, *self.markers]), *terms)


@dataclass
class Features:
    window: TimeRange
    series: list[SeriesSummary] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    changed_patterns: list[Pattern] = field(default_factory=list)
    shifted: list[Pattern] = field(default_factory=list)  # steady rate, values changed
    patterns: list[Pattern] = field(default_factory=list)
    lambda_reports: list[LambdaReports] = field(default_factory=list)
    segments: list[SegmentChange] = field(default_factory=list)
    roots: set[tuple[str, str]] = field(default_factory=set)
    guardrail_series: list[SeriesSummary] = field(default_factory=list)
    invocation_log: InvocationLogStats | None = None
    changes: list[Change] = field(default_factory=list)

    # -- metrics ---------------------------------------------------------------
    def moved(self, *names: str, namespace: str | None = None, up: bool | None = True):
        """Anomalous series with one of these names (case-insensitive), strongest first."""
        wanted = {n.lower() for n in names}
        found = [
            s
            for s in [*self.series, *self.guardrail_series]
            if s.anomalous
            and s.ref.name.lower() in wanted
            and (namespace is None or s.ref.namespace.startswith(namespace))
            and (up is None or (s.direction == "up") == up)
        ]
        unique = {id(s): s for s in found}
        return sorted(unique.values(), key=lambda s: -s.score)

    def moved_in(self, namespace_pattern: str) -> list[SeriesSummary]:
        pattern = re.compile(namespace_pattern, re.I)
        return [s for s in self.series if s.anomalous and pattern.search(s.ref.namespace)]

    # -- logs ------------------------------------------------------------------
    def failing(self, *terms: Family | str, new_only: bool = False) -> list[Failure]:
        """New or grown failure patterns whose line carries one of the terms."""
        found = [
            f
            for f in self.failures
            if f.has(*terms) and (not new_only or f.pattern.status == "new")
        ]
        return sorted(found, key=lambda f: -f.pattern.recent)

    def new_errors(self) -> list[Failure]:
        """New ERROR patterns seen at least MIN_COUNT times: one stray line is not news."""
        return [
            x
            for x in self.failures
            if x.pattern.status == "new"
            and x.pattern.level == "ERROR"
            and x.pattern.recent >= MIN_COUNT
        ]

    def grown_lines(self, *terms: Family | str) -> list[Pattern]:
        """New or grown patterns of any level carrying one of the terms (whole tokens), then
        steady ones whose values since onset carry it (`numberOfResults=0` took over)."""
        found = [
            p
            for p in self.changed_patterns
            if p.status in ("new", "grown") and matches(p.sample, *terms)
        ]
        return found + [p for p in self.shifted if matches(" ".join(p.shifts), *terms)]

    def outcome_shifts(self) -> list[Pattern]:
        """New or grown lines whose own outcome or status field (`"outcome": "declined"`,
        `finish_reason=length`) holds a value other than success: how answers ended
        changed, whatever words the application uses for it."""
        found = []
        for pattern in self.changed_patterns:
            if pattern.status not in ("new", "grown") or pattern.markers:
                continue
            if pattern.level == "ERROR" or '"platform.' in pattern.sample:
                continue
            match = OUTCOME_FIELD.search(pattern.sample)
            if match and match.group(2).lower() not in SUCCESS_WORDS:
                found.append(pattern)
        for pattern in self.shifted:
            for shift in pattern.shifts:
                match = OUTCOME_FIELD.match(shift)
                if match and match.group(2).lower() not in SUCCESS_WORDS:
                    found.append(pattern)
                    break
        return sorted(found, key=lambda p: -p.recent)

    # -- traces ----------------------------------------------------------------
    def segment_kind(self, segment: SegmentChange) -> str:
        if segment.kind in LAMBDA_KINDS:  # Lambda's own work: cold start, handler, retries
            return segment.kind
        if segment.kind in ROOT_KINDS or (segment.name, segment.operation) in self.roots:
            return "root"
        text = f"{segment.name} {segment.service} {segment.operation}"
        operation = segment.operation.lower()
        if operation == "applyguardrail":
            return "guardrail"
        if operation in ("retrieve", "retrieveandgenerate") or RETRIEVAL_HINT.search(text):
            return "retrieval"
        if operation in MODEL_OPERATIONS or "bedrock-runtime" in text.lower():
            return "model"
        return "dependency"

    def segments_of(self, kind: str) -> list[SegmentChange]:
        return [s for s in self.segments if self.segment_kind(s) == kind]

    def root_growth_ms(self) -> float:
        roots = [r for r in self.segments_of("root") if r.baseline.count]  # else nothing grew
        return max((r.recent.mean_ms - r.baseline.mean_ms for r in roots), default=0.0)

    # -- changes ---------------------------------------------------------------
    def changes_before(self, minutes: float, related: bool | None = True) -> list[Change]:
        """Changes within `minutes` before the onset (and up to 2 min after: onset is coarse)."""
        onset = self.window.onset
        return sorted(
            (
                c
                for c in self.changes
                if -2 <= c.minutes_before(onset) <= minutes
                and (related is None or c.related == related)
            ),
            key=lambda c: c.minutes_before(onset),
        )


def key_words(key: str) -> set[str]:
    """The words of a configuration key: `environment.variables.SYSTEM_PROMPT_V2` ->
    {system, prompt, v2}; `/app/prompts/maxTokens` -> {max, tokens}."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)
    return {w.lower() for w in re.split(r"[^A-Za-z0-9]+", spaced) if w}


def is_prompt_key(key: str) -> bool:
    """Whether a configuration key names a prompt, model or inference setting."""
    words = key_words(key)
    return bool(words & PROMPT_WORDS) or any(
        words & first and words & second for first, second in PROMPT_PAIRS
    )


def env_keys(change: Change) -> list[str]:
    """The environment variables a function-configuration change sets, by name."""
    return [
        k.split("variables.", 1)[1]
        for k in change.request
        if k.startswith("environment.variables.")
    ]


def changed_keys(change: Change) -> list[str]:
    """The configuration keys a change touches: environment variables, an SSM parameter's
    name, a function's settings."""
    if change.source.startswith("ssm.") and change.request.get("name"):
        return [change.request["name"]]
    return env_keys(change) or [k for k in change.request if k not in ("functionName",)]


def change_kind(change: Change) -> str:
    """routine | deploy | prompt | iam | concurrency | guardrail | config."""
    if ROUTINE_CHANGE.search(change.name):
        return "routine"
    if IAM_CHANGE.search(change.name) or change.source.startswith("iam."):
        return "iam"
    # A function moved to another execution role: its permissions changed with it.
    if change.name.startswith("UpdateFunctionConfiguration") and "role" in change.request:
        return "iam"
    if GUARDRAIL_CHANGE.search(change.name):
        return "guardrail"
    if CONCURRENCY_CHANGE.search(change.name):
        return "concurrency"
    if change.source.startswith("ssm.") and is_prompt_key(change.request.get("name", "")):
        return "prompt"
    if "Prompt" in change.name:
        return "prompt"
    if any(is_prompt_key(k) for k in env_keys(change)):
        return "prompt"
    if any(k in change.request for k in ("memorySize", "timeout", "reservedConcurrentExecutions")):
        return "concurrency"
    if DEPLOY_CHANGE.search(change.name):
        return "deploy"
    return "config"


def extract(bundle: EvidenceBundle) -> Features:
    features = Features(window=bundle.window)
    if result := bundle.results.get("metrics"):
        features.series = list(result.data.get("series", []))
    if result := bundle.results.get("logs"):
        features.patterns = list(result.data.get("patterns", []))
        features.lambda_reports = list(result.data.get("lambda_reports", []))
        for pattern in features.patterns:
            if pattern.status == "steady":
                if pattern.shifts:
                    features.shifted.append(pattern)
                continue
            features.changed_patterns.append(pattern)
            if pattern.status in ("new", "grown") and (
                pattern.markers or pattern.level in ("ERROR", "WARN")
            ):
                features.failures.append(Failure(pattern, pattern.markers))
    if result := bundle.results.get("traces"):
        # A call with nothing read before the onset has no baseline to be slower than.
        features.segments = [
            s
            for s in result.data.get("segments", [])
            if s.baseline.count or s.recent.failed or s.kind in LAMBDA_KINDS
        ]
        features.roots = set(result.data.get("roots", set()))
    if result := bundle.results.get("guardrails"):
        features.guardrail_series = list(result.data.get("series", []))
        features.invocation_log = result.data.get("invocation_log")
    if result := bundle.results.get("changes"):
        features.changes = list(result.data.get("changes", []))
    return features
