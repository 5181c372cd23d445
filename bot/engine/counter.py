"""Counter-evidence: the checks that came back empty for a hypothesis.

Support alone over-sells a cause. For each category this module asks the one or two
questions whose answer would have been "yes" if the category were the cause (did the
throttle metric move? was there a change on our side before onset?) and, where the data
says "no", writes that down. A source that could not be read is said to be unread, never
counted as "no". Only the features are read, never scenario names or notes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from bot.engine.features import Features, change_kind
from bot.models import Category
from tools.metrics import SeriesSummary

MAX_LINES = 3


def _series(f: Features, *names: str) -> list[SeriesSummary]:
    wanted = {n.lower() for n in names}
    return [s for s in [*f.series, *f.guardrail_series] if s.ref.name.lower() in wanted]


def flat(f: Features, *names: str) -> str | None:
    """ "InvocationThrottles flat (0 -> 0/min)" when the series were read and none moved up;
    None when one moved or none was read."""
    found = _series(f, *names)
    if not found or any(s.anomalous and s.direction == "up" for s in found):
        return None
    s = max(found, key=lambda s: s.recent)
    return f"{s.ref.name} flat ({s.baseline:.3g} -> {s.recent:.3g} per period, {s.statistic})"


def no_errors(f: Features, label: str, *words: str) -> str | None:
    """ "no new or grown <label> lines since onset" when logs were read and none matched."""
    if f.failing(*words):
        return None
    return f"no new or grown {label} lines since onset"


def no_change(f: Features, kinds: tuple[str, ...], label: str) -> str | None:
    """ "no <label> on our side before onset" when no related change of those kinds landed
    in the changes read up to onset."""
    found = [
        c
        for c in f.changes
        if c.related and change_kind(c) in kinds and c.minutes_before(f.window.onset) >= -2
    ]
    return None if found else f"no {label} on our side before onset (CloudTrail read)"


def quiet_segments(f: Features, kind: str, label: str) -> str | None:
    """ "<label> calls no slower and not failing more (traces)" when traces show that kind of
    call and none of them moved."""
    segments = f.segments_of(kind)
    if not segments:
        return None
    for s in segments:
        before, after = s.failure_rates()
        if after - before >= 0.1 or s.recent.mean_ms >= 1.5 * max(s.baseline.mean_ms, 1):
            return None
    return f"{label} calls no slower and not failing more in the traces"


def _checks(f: Features) -> dict[Category, list[Callable[[], str | None]]]:
    """Per category, the empty checks that argue against it, in the order they are shown."""
    return {
        Category.MODEL_THROTTLING: [
            lambda: flat(f, "InvocationThrottles"),
            lambda: no_errors(f, "ThrottlingException", "ThrottlingException", "Too many"),
        ],
        Category.MODEL_PROVIDER_DEGRADATION: [
            lambda: flat(f, "InvocationServerErrors", "ModelErrors"),
            lambda: no_errors(
                f,
                "model 5xx",
                "ServiceUnavailable",
                "ModelTimeout",
                "InternalServer",
                "ModelNotReady",
            ),
            lambda: quiet_segments(f, "model", "Model"),
        ],
        Category.BAD_DEPLOYMENT: [
            lambda: no_change(f, ("deploy", "config"), "deploy or configuration change"),
            lambda: flat(f, "Errors"),
        ],
        Category.PROMPT_REGRESSION: [
            lambda: no_change(f, ("prompt",), "prompt, model or parameter change"),
            lambda: flat(f, "OutputTokenCount"),
        ],
        Category.TOKEN_COST_SPIKE: [
            lambda: flat(f, "InputTokenCount", "OutputTokenCount"),
        ],
        Category.GUARDRAIL_ABUSE: [
            lambda: flat(f, "InvocationsIntervened", "InvocationIntervened"),
        ],
        Category.RETRIEVAL_FAILURE: [
            lambda: quiet_segments(f, "retrieval", "Retrieval"),
        ],
        Category.DEPENDENCY_FAILURE: [
            lambda: quiet_segments(f, "dependency", "Downstream"),
        ],
        Category.COMPUTE_SATURATION: [
            lambda: flat(f, "Throttles", "ConcurrentExecutions"),
            lambda: no_errors(f, "timeout or out-of-memory", "Task timed out", "Runtime.ExitError"),
        ],
        Category.ACCESS_DENIED: [
            lambda: no_errors(f, "AccessDenied", "AccessDenied", "not authorized"),
            lambda: no_change(f, ("iam",), "IAM or permission change"),
        ],
        Category.INPUT_VALIDATION_ERRORS: [
            lambda: no_errors(f, "ValidationException", "ValidationException"),
            lambda: flat(f, "InvocationClientErrors"),
        ],
    }


def against(f: Features, category: Category, missing: Mapping[str, str]) -> list[str]:
    """What argues against `category`, at most three lines. A check on an unread source
    is dropped and the unread source said instead."""
    lines: list[str] = []
    for check in _checks(f)[category]:
        line = check()
        if line is None:
            continue
        if ("lines since onset" in line and "logs" in missing) or (
            "CloudTrail" in line and "changes" in missing
        ):
            continue
        if "in the traces" in line and "traces" in missing:
            continue
        lines.append(line)
    unread = [s for s in ("logs", "changes", "traces") if s in missing]
    if unread:
        lines.append("unread, so not checked: " + ", ".join(unread))
    return lines[:MAX_LINES]
