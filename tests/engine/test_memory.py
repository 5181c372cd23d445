"""Memory of past incidents: recurrences recognised, and a prior that is bounded,
explained, and never invents a cause the telemetry does not support."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bot.config import BUNDLED_SCENARIOS
from bot.engine.investigate import gather_options, investigate
from bot.engine.memory import (
    MAX_PRIOR,
    apply_prior,
    normalise,
    recall,
    similarity,
)
from bot.engine.runbooks import load_runbooks
from bot.models import Category, Fingerprint, Hypothesis, Investigation, PastIncident
from bot.sim.replay import replay
from bot.sim.scenario import load_scenario

WHEN = datetime(2026, 11, 2, 9, 30, tzinfo=UTC)
FP = Fingerprint(
    service="claims-copilot",
    alarm="claims-copilot-api-p95-latency",
    category=Category.DEPENDENCY_FAILURE,
    signatures=["error # throttlingexception: too many tokens, please wait before trying again."],
    change_kind=None,
)


def past(
    confirmed: Category | None,
    verdict: str = "confirmed",
    fingerprint: Fingerprint = FP,
    incident_id: int = 7,
) -> PastIncident:
    return PastIncident(
        incident_id=incident_id,
        analysis_id=incident_id * 10,
        opened_at=WHEN - timedelta(days=incident_id),
        fingerprint=fingerprint,
        verdict=verdict,
        confirmed=confirmed,
        resolution="raised the on-demand quota",
    )


def triaged(*scores: tuple[Category, float]) -> Investigation:
    return Investigation(
        service="claims-copilot",
        alarm="claims-copilot-api-p95-latency",
        hypotheses=[
            Hypothesis(category=c, confidence=s, title=c.value, evidence=[f"{c.value} line"])
            for c, s in scores
        ],
        evidence_tokens=10,
    )


def test_normalising_drops_what_varies_between_occurrences():
    a = normalise("[ERROR] 2026-11-29T11:47:03.512Z 5b6c7d8e-1111-2222-3333-444455556666 in 30s")
    b = normalise("[ERROR] 2026-12-04T08:01:59.004Z 0a1b2c3d-aaaa-bbbb-cccc-ddddeeeeffff in 29s")
    assert a == b


def test_similarity_needs_the_same_service_and_weighs_alarm_reading_errors_and_change():
    assert similarity(FP, FP) == pytest.approx(0.3 + 0.2 + 0.35 + 0.15 * 0.5)
    other_service = FP.model_copy(update={"service": "billing"})
    assert similarity(FP, other_service) == 0
    different = FP.model_copy(
        update={"alarm": "x", "category": Category.BAD_DEPLOYMENT, "signatures": ["keyerror"]}
    )
    assert similarity(FP, different) < 0.5
    deployed = FP.model_copy(update={"change_kind": "lambda:UpdateFunctionCode"})
    assert similarity(FP, deployed) < similarity(FP, FP)


def test_a_confirmed_cause_of_a_similar_incident_settles_a_close_call_and_says_why():
    found = triaged((Category.DEPENDENCY_FAILURE, 0.45), (Category.MODEL_THROTTLING, 0.40))
    after = apply_prior(found, FP, [past(Category.MODEL_THROTTLING, "corrected")])
    top = after.top
    assert top is not None and top.category == Category.MODEL_THROTTLING
    assert 0.40 < top.confidence <= 0.40 + MAX_PRIOR
    line = top.evidence[-1]
    assert line.startswith("seen before: 1 similar past incident(s) of this service confirmed as")
    assert "#7 2026-10-26 (👎 corrected" in line and "at most 0.15" in line
    assert [p.incident_id for p in after.seen_before] == [7]
    assert after.seen_before[0].similarity > 0.5


def test_the_prior_never_overturns_a_clear_reading():
    found = triaged((Category.BAD_DEPLOYMENT, 0.80), (Category.MODEL_THROTTLING, 0.30))
    many = [past(Category.MODEL_THROTTLING, incident_id=i) for i in range(1, 6)]
    after = apply_prior(found, FP, many)
    assert after.top.category == Category.BAD_DEPLOYMENT
    boosted = next(h for h in after.hypotheses if h.category == Category.MODEL_THROTTLING)
    assert boosted.confidence == pytest.approx(0.30 + MAX_PRIOR)


def test_the_prior_never_invents_a_cause_the_telemetry_does_not_support():
    found = triaged((Category.DEPENDENCY_FAILURE, 0.45), (Category.MODEL_THROTTLING, 0.0))
    after = apply_prior(found, FP, [past(Category.MODEL_THROTTLING)])
    assert [(h.category, h.confidence) for h in after.hypotheses] == [
        (Category.DEPENDENCY_FAILURE, 0.45),
        (Category.MODEL_THROTTLING, 0.0),
    ]
    assert after.seen_before, "still shown as seen before"


def test_unconfirmed_or_dissimilar_incidents_do_not_weigh():
    found = triaged((Category.DEPENDENCY_FAILURE, 0.45), (Category.MODEL_THROTTLING, 0.40))
    unrated = apply_prior(found, FP, [past(None, "unrated"), past(None, "rejected", incident_id=8)])
    assert unrated.hypotheses == found.hypotheses and len(unrated.seen_before) == 2
    far = FP.model_copy(update={"alarm": "other", "signatures": ["keyerror session"]})
    far = far.model_copy(update={"category": Category.BAD_DEPLOYMENT})
    assert apply_prior(found, FP, [past(Category.MODEL_THROTTLING, fingerprint=far)]) == found
    assert apply_prior(found, FP, [past(Category.MODEL_THROTTLING)], max_prior=0).hypotheses == (
        found.hypotheses
    )


def test_recall_puts_the_most_similar_first():
    near = past(Category.MODEL_THROTTLING, incident_id=3)
    farther = past(
        Category.MODEL_THROTTLING,
        incident_id=4,
        fingerprint=FP.model_copy(update={"change_kind": "lambda:UpdateFunctionCode"}),
    )
    assert [p.incident_id for p in recall(FP, [farther, near])] == [3, 4]


def test_a_replayed_recurrence_fingerprints_like_the_first_occurrence(aws, settings):
    """The same scenario replayed twice gives fingerprints similar enough to be recalled,
    and its investigation carries the fingerprint of what the triage saw."""
    scenario = load_scenario(BUNDLED_SCENARIOS / "dependency-failure-crm-api-timeouts.yaml")
    scenario = scenario.model_copy(update={"region": aws.region})  # where the tools read
    books = load_runbooks(settings.runbooks_dir)
    prints = []
    for seed in (scenario.seed, scenario.seed + 1):
        run = replay(scenario.model_copy(update={"seed": seed}), aws, settings)
        found, _ = investigate(
            aws,
            run.alarm,
            run.service,
            books,
            now=run.telemetry.end,
            options=gather_options(settings),
        )
        assert found.fingerprint is not None
        prints.append(found.fingerprint)
    assert prints[0].signatures, "error signatures were read from the logs"
    assert prints[0].category == Category.DEPENDENCY_FAILURE
    assert similarity(prints[0], prints[1]) >= 0.8


def test_what_a_side_could_not_read_is_left_out_not_counted_as_different():
    blind = FP.model_copy(
        update={"category": Category.PROMPT_REGRESSION, "signatures": [], "unread": ["signatures"]}
    )
    # Same alarm and no change either side, reading differs, logs unknown: 0.375 of 0.65.
    assert similarity(FP, blind) == pytest.approx((0.3 + 0.15 * 0.5) / 0.65, abs=1e-3)
    seen_nothing = blind.model_copy(update={"unread": []})
    assert similarity(FP, seen_nothing) < 0.5  # logs read and quiet: that is a difference
