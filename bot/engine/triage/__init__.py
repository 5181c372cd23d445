"""Deterministic root-cause hypotheses: every taxonomy category scored from telemetry.

Each category has a scorer that asks the questions an SRE asks for that cause (did the
provider throttle? did new exceptions start right after one of our changes? is the time
going into the retrieval span?) and keeps the evidence lines that answered yes; scorers
live by family (`provider`, `changes`, `usage`, `downstream`). Runbook signals found in
what changed add a little weight. Nothing here looks at scenario names, ids or notes:
only at the evidence.
"""

from __future__ import annotations

from collections.abc import Callable

from bot.engine.calibration import confidences
from bot.engine.counter import against
from bot.engine.evidence import EvidenceBundle
from bot.engine.features import Features, extract
from bot.engine.runbooks import Runbook, by_category
from bot.engine.span_features import span_features
from bot.engine.triage.changes import bad_deployment, prompt_regression
from bot.engine.triage.downstream import compute_saturation, dependency_failure, retrieval_failure
from bot.engine.triage.provider import (
    access_denied,
    input_validation_errors,
    model_provider_degradation,
    model_throttling,
)
from bot.engine.triage.score import Score, failing_more, slower
from bot.engine.triage.spans import signals as span_signals
from bot.engine.triage.usage import guardrail_abuse, token_cost_spike
from bot.models import CATEGORY_TITLES, Category, Hypothesis
from tools.vocabulary import lookup

MAX_EVIDENCE_LINES = 6
SCORERS: dict[Category, Callable[[Features], Score]] = {
    Category.MODEL_THROTTLING: model_throttling,
    Category.MODEL_PROVIDER_DEGRADATION: model_provider_degradation,
    Category.BAD_DEPLOYMENT: bad_deployment,
    Category.PROMPT_REGRESSION: prompt_regression,
    Category.TOKEN_COST_SPIKE: token_cost_spike,
    Category.GUARDRAIL_ABUSE: guardrail_abuse,
    Category.RETRIEVAL_FAILURE: retrieval_failure,
    Category.DEPENDENCY_FAILURE: dependency_failure,
    Category.COMPUTE_SATURATION: compute_saturation,
    Category.ACCESS_DENIED: access_denied,
    Category.INPUT_VALIDATION_ERRORS: input_validation_errors,
}


def changed_text(f: Features) -> list[str]:
    """The lines describing what changed: where runbook signals are looked for."""
    lines = [s.line(f.window) for s in [*f.series, *f.guardrail_series] if s.anomalous]
    lines += [p.line(f.window) for p in f.changed_patterns if p.status in ("new", "grown")]
    lines += [p.line(f.window) for p in f.shifted]
    lines += ["trace " + s.line() for s in f.segments if failing_more(s) or slower(s)]
    lines += [c.line(f.window) for c in f.changes_before(60, related=None)]
    return lines


def signal_boost(book: Runbook, lines: list[str], score: Score) -> None:
    """Each runbook signal seen in what changed adds a little weight and its line."""
    hits = 0
    for signal in book.signals:
        # A vocabulary id stands for its family's signatures; any other signal is an AWS
        # term matched as a whole token (`Throttles` must not match `InvocationThrottles`).
        needle = lookup(signal)
        line = next((line for line in lines if needle.search(line)), None)
        if line is None:
            continue
        hits += 1
        if hits <= 2 and not any(line in kept for kept in score.lines):
            score.add(0.0, line)  # not again when it is already cited (as the causal change)
    score.add(min(0.04 * hits, 0.16) if score.value else min(0.02 * hits, 0.06))


def raw_scores(bundle: EvidenceBundle, runbooks: list[Runbook]) -> tuple[Features, dict]:
    """The features and every category's raw weight with its lines, before calibration
    (`bench/calibrate.py` fits on these weights)."""
    features = extract(bundle)
    books = by_category(runbooks)
    lines = changed_text(features)
    from_spans = span_signals(span_features(bundle), features)
    scores: dict[Category, Score] = {}
    for category, scorer in SCORERS.items():
        score = scorer(features)
        if extra := from_spans.added.get(category):
            # a line the scorer cites already (perhaps as `causal change: ...`) is not repeated
            score.lines[:0] = [
                line for line in extra.lines if not any(line in kept for kept in score.lines)
            ]
            score.add(extra.value)
        score.scale(from_spans.scales.get(category, 1.0))
        if book := books.get(category):
            signal_boost(book, lines, score)
        scores[category] = score
    return features, scores


def triage(bundle: EvidenceBundle, runbooks: list[Runbook]) -> list[Hypothesis]:
    """All eleven categories, scored and sorted by weight (highest first); each confidence
    is the calibrated probability that the category is the cause (`calibration`)."""
    features, scores = raw_scores(bundle, runbooks)
    books = by_category(runbooks)
    calibrated = confidences({c: s.value for c, s in scores.items()})
    hypotheses = []
    for category, score in scores.items():
        book = books.get(category)
        hypotheses.append(
            Hypothesis(
                category=category,
                confidence=calibrated[category],
                title=_title(category, features, score),
                evidence=score.lines[:MAX_EVIDENCE_LINES],
                remediation=list(book.remediation) if book else [],
                runbook=book.id if book else None,
                counter_evidence=against(features, category, bundle.missing),
            )
        )
    order = list(SCORERS)
    hypotheses.sort(key=lambda h: (-scores[h.category].value, order.index(h.category)))
    return hypotheses


def _title(category: Category, f: Features, score: Score) -> str:
    base = CATEGORY_TITLES[category]
    if not score.lines:
        return f"{base}: no supporting evidence"
    first = score.lines[0]
    short = first if len(first) <= 90 else first[:87] + "..."
    return f"{base}: {short}"
