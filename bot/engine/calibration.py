"""Calibrated confidence: the triage's raw weights turned into the probability that a
category is the right one, and the decision to abstain.

The triage adds evidence weights per category; a weight's share of the total is not a
probability (a share of 0.8 was right far less than 80% of the time on varied incidents).
A logistic model (Platt scaling) over three features of the raw weights—the category's
share, its margin over the best other category and its own weight—maps them to a
probability. Its parameters are fitted by `bench/calibrate.py` on the bundled scenarios
and generated variants of them (`bot.sim.variants`), held out by scenario, and stored in
`calibration.json` beside this module; refit them whenever the triage's weights change.

With every weight zero the confidence is 0: "no supporting evidence" stays visible as 0
everywhere (Slack, the command line, memory). When the best hypothesis is below the
stored threshold the verdict is `undetermined`.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from functools import cache
from importlib import resources

from pydantic import BaseModel, ConfigDict, Field

from bot.models import CATEGORY_TITLES, Category, Hypothesis, Verdict

FEATURES = ("share", "margin", "weight")
MAX_CONFIDENCE = 0.99
DATA_FILE = "calibration.json"

# What would show each category, for telling two candidates apart when abstaining. Written
# as checks an on-call engineer can run, in AWS terms (metric names, API errors, events).
DECISIVE: dict[Category, str] = {
    Category.MODEL_THROTTLING: (
        "AWS/Bedrock InvocationThrottles or ThrottlingException rising at onset for the model"
    ),
    Category.MODEL_PROVIDER_DEGRADATION: (
        "model-side 5xx (InvocationServerErrors, ServiceUnavailableException, "
        "ModelTimeoutException) or model latency up with no change on our side"
    ),
    Category.BAD_DEPLOYMENT: (
        "errors that are new right after a deploy or configuration change of the failing function"
    ),
    Category.PROMPT_REGRESSION: (
        "a prompt, model id or inference parameter change before answers changed "
        "(output tokens, stop reasons, refusals)"
    ),
    Category.TOKEN_COST_SPIKE: (
        "InputTokenCount/OutputTokenCount per call, or one caller's share of tokens, "
        "grown against before onset"
    ),
    Category.GUARDRAIL_ABUSE: (
        "guardrail interventions grown, with the topic, filter or PII type that fired"
    ),
    Category.RETRIEVAL_FAILURE: (
        "the knowledge-base Retrieve (or vector store) span failing or slower, or empty "
        "retrievals, since onset"
    ),
    Category.DEPENDENCY_FAILURE: (
        "a downstream call (DynamoDB, HTTP API, cache) failing or slower in the traces since onset"
    ),
    Category.COMPUTE_SATURATION: (
        "Lambda Throttles or ConcurrentExecutions at the limit, timeouts, or memory used at "
        "the memory size"
    ),
    Category.ACCESS_DENIED: (
        "AccessDeniedException since onset, with the IAM or role change made before it"
    ),
    Category.INPUT_VALIDATION_ERRORS: (
        "ValidationException on requests (too long, malformed) grown with no change on our side"
    ),
}


class Calibration(BaseModel):
    """A fitted Platt model: p = sigmoid(bias + sum(weights[i] * feature[i]))."""

    model_config = ConfigDict(frozen=True)

    features: tuple[str, ...] = FEATURES
    weights: tuple[float, ...] = (6.0, 2.0, 0.0)
    bias: float = -3.0
    threshold: float = Field(default=0.5, ge=0.0, le=1.0)
    fitted_on: str = ""

    def probability(self, raw: Sequence[float]) -> float:
        z = self.bias + sum(w * x for w, x in zip(self.weights, raw, strict=True))
        return 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))


def raw_features(value: float, total: float, best_other: float) -> tuple[float, float, float]:
    """(share, margin, weight) of one category's raw triage weight. The share is the old
    confidence, `value / (total + 0.25)`; the margin is against the best other category."""
    share = value / (total + 0.25) if total else 0.0
    return share, value - best_other, value


@cache
def load_calibration() -> Calibration:
    """The fitted parameters shipped with the package (read once; they never change at run
    time)."""
    text = resources.files("bot.engine").joinpath(DATA_FILE).read_text(encoding="utf-8")
    return Calibration.model_validate(json.loads(text))


def confidences(values: dict[Category, float], model: Calibration | None = None) -> dict:
    """Calibrated confidence of every category from its raw weight (0 for no evidence),
    scaled down together when they would add up past 1."""
    model = model or load_calibration()
    total = sum(values.values())
    found: dict[Category, float] = {}
    for category, value in values.items():
        if value <= 0:
            found[category] = 0.0
            continue
        best_other = max((v for c, v in values.items() if c != category), default=0.0)
        found[category] = model.probability(raw_features(value, total, best_other))
    # The categories are alternatives: their probabilities may not add up past 1. Scaling
    # them together keeps the order and each one's meaning as a share of the belief.
    mass = sum(found.values())
    scale = 1.0 / mass if mass > 1.0 else 1.0
    return {c: round(min(MAX_CONFIDENCE, p * scale), 2) for c, p in found.items()}


def decide(
    hypotheses: Sequence[Hypothesis], model: Calibration | None = None
) -> tuple[Verdict, list[str]]:
    """The verdict on ranked hypotheses and, when undetermined, what would separate the
    two best candidates. The first hypothesis decides: below the threshold (or with no
    evidence at all) no cause is named."""
    model = model or load_calibration()
    top = hypotheses[0] if hypotheses else None
    if top is not None and top.confidence >= model.threshold:
        return Verdict.DETERMINED, []
    candidates = [h for h in hypotheses[:2] if h.confidence > 0]
    if not candidates:
        return Verdict.UNDETERMINED, [
            "no category has supporting evidence: check the missing sources, then the alarm's "
            "metric against its baseline"
        ]
    lines = []
    for h in candidates:
        lines.append(f"{CATEGORY_TITLES[h.category]} would show: {DECISIVE[h.category]}")
    return Verdict.UNDETERMINED, lines


# -- fitting and measuring (bench/calibrate.py) ----------------------------------------


def fit(rows: Sequence[tuple[Sequence[float], bool]], l2: float = 0.01) -> tuple[list, float]:
    """Logistic regression by Newton's method, weights kept non-negative so the confidence
    never falls as the share, margin or weight grows: a feature whose weight would go
    negative is left out and the rest refitted. Returns (weights, bias)."""
    n = len(rows[0][0]) if rows else 0
    active = list(range(n))
    while True:
        w, b = _newton(rows, active, l2)
        negative = [i for i in active if w[i] < 0]
        if not negative:
            return w, b
        active.remove(min(negative, key=lambda i: w[i]))


def _newton(rows, active: list[int], l2: float, steps: int = 50) -> tuple[list[float], float]:
    n = len(rows[0][0])
    k = len(active) + 1  # the active weights, then the bias
    theta = [0.0] * k
    for _ in range(steps):
        grad = [0.0] * k
        hess = [[0.0] * k for _ in range(k)]
        for x, y in rows:
            xs = [x[i] for i in active] + [1.0]
            z = sum(t * v for t, v in zip(theta, xs, strict=True))
            p = 1.0 / (1.0 + math.exp(-max(min(z, 40.0), -40.0)))
            for i in range(k):
                grad[i] += (p - float(y)) * xs[i]
                for j in range(k):
                    hess[i][j] += p * (1 - p) * xs[i] * xs[j]
        for i in range(k - 1):
            grad[i] += l2 * theta[i]
            hess[i][i] += l2
        hess[k - 1][k - 1] += 1e-9
        step = _solve(hess, grad)
        theta = [t - s for t, s in zip(theta, step, strict=True)]
        if max(abs(s) for s in step) < 1e-7:
            break
    weights = [0.0] * n
    for index, feature in enumerate(active):
        weights[feature] = theta[index]
    return weights, theta[-1]


def _solve(a: list[list[float]], b: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (a few unknowns)."""
    n = len(b)
    m = [[*row, b[i]] for i, row in enumerate(a)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(m[r][col]))
        m[col], m[pivot] = m[pivot], m[col]
        if abs(m[col][col]) < 1e-12:
            continue
        for r in range(n):
            if r != col:
                f = m[r][col] / m[col][col]
                m[r] = [x - f * y for x, y in zip(m[r], m[col], strict=True)]
    return [m[i][n] / m[i][i] if abs(m[i][i]) > 1e-12 else 0.0 for i in range(n)]


def brier(pairs: Sequence[tuple[float, bool]]) -> float:
    """Mean squared gap between the confidence and what happened (0 is perfect)."""
    return sum((p - float(y)) ** 2 for p, y in pairs) / len(pairs) if pairs else 0.0


BUCKETS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0001))


def reliability(pairs: Sequence[tuple[float, bool]]) -> list[tuple[str, int, float, float]]:
    """Per confidence bucket: (label, count, mean confidence, observed accuracy)."""
    table = []
    for low, high in BUCKETS:
        inside = [(p, y) for p, y in pairs if low <= p < high]
        if not inside:
            table.append((bucket_label(low, high), 0, 0.0, 0.0))
            continue
        mean = sum(p for p, _ in inside) / len(inside)
        right = sum(1 for _, y in inside if y) / len(inside)
        table.append((bucket_label(low, high), len(inside), mean, right))
    return table


def bucket_label(low: float, high: float) -> str:
    return f"{low:.0%}-{min(high, 1.0):.0%}"
