"""The confidence shown is a probability: within [0, 1], 0 without evidence, never lower
for more (or more decisive) evidence; below the threshold the verdict abstains and says
what would separate the two best candidates."""

from __future__ import annotations

import random

from bot.engine.calibration import (
    Calibration,
    brier,
    confidences,
    decide,
    fit,
    load_calibration,
    raw_features,
    reliability,
)
from bot.models import Category, Hypothesis, Verdict

T, D = Category.MODEL_THROTTLING, Category.BAD_DEPLOYMENT


def weights(top: float, second: float = 0.0) -> dict[Category, float]:
    found = dict.fromkeys(Category, 0.0)
    found[T], found[D] = top, second
    return found


def test_the_shipped_calibration_is_a_monotone_probability():
    model = load_calibration()
    assert all(w >= 0 for w in model.weights) and 0 < model.threshold < 1
    previous = 0.0
    for step in range(1, 40):
        shown = confidences(weights(step * 0.05, 0.3), model)
        assert 0.0 <= shown[T] <= 1.0 and 0.0 <= shown[D] <= 1.0
        assert shown[T] >= previous, "more evidence never lowers the confidence"
        previous = shown[T]
    assert confidences(weights(0.0, 0.0), model)[T] == 0.0, "no evidence shows as 0"
    # A rival with as much weight makes the same evidence less certain.
    alone, contested = confidences(weights(1.0), model)[T], confidences(weights(1.0, 1.0))[T]
    assert contested < alone


def test_fitting_learns_a_non_negative_monotone_map_from_outcomes():
    rng = random.Random(7)
    rows = []
    for _ in range(600):
        value, other = rng.uniform(0.05, 1.5), rng.uniform(0.0, 1.0)
        features = raw_features(value, value + other, other)
        rows.append((features, rng.random() < min(0.95, features[0])))  # right ~ share
    found, bias = fit(rows)
    assert all(w >= 0 for w in found)
    model = Calibration(weights=tuple(found), bias=bias)
    low = model.probability(raw_features(0.2, 1.2, 1.0))
    high = model.probability(raw_features(1.4, 1.5, 0.1))
    assert 0.0 < low < high < 1.0
    shares = [(min(0.97, f[0]), y) for f, y in rows]
    fitted = [(model.probability(f), y) for f, y in rows]
    assert brier(fitted) <= brier(shares) + 0.01
    assert sum(count for _, count, _, _ in reliability(fitted)) == len(rows)


def hypothesis(category: Category, confidence: float) -> Hypothesis:
    return Hypothesis(category=category, confidence=confidence, title="t", evidence=["e"])


def test_below_the_threshold_the_verdict_names_two_candidates_and_what_separates_them():
    model = Calibration(threshold=0.5)
    verdict, separating = decide([hypothesis(T, 0.41), hypothesis(D, 0.33)], model)
    assert verdict is Verdict.UNDETERMINED
    assert len(separating) == 2
    assert "Model throttling would show" in separating[0] and "InvocationThrottles" in separating[0]
    assert "Bad deployment would show" in separating[1] and "deploy" in separating[1]
    assert decide([hypothesis(T, 0.74), hypothesis(D, 0.1)], model) == (Verdict.DETERMINED, [])
    nothing, why = decide([hypothesis(T, 0.0)], model)
    assert nothing is Verdict.UNDETERMINED and "no category has supporting evidence" in why[0]
