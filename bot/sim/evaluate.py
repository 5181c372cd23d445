"""One scenario (as loaded YAML) investigated offline and scored against its `expected`:
the measurement the robustness and calibration benches share.

A `Case` keeps what the benches need afterwards without investigating again: the ranked
categories, the raw triage weights (to refit the calibration), the calibrated confidence
and verdict shown, and how much of the expected evidence the first hypothesis cites.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import BaseModel, Field

from bot.config import Settings
from bot.engine.investigate import gather_options, investigate
from bot.engine.runbooks import Runbook
from bot.engine.triage import raw_scores
from bot.models import Category
from bot.sim.emulator import emulator_session, reset_emulator
from bot.sim.replay import replay
from bot.sim.scenario import parse_scenario
from bot.sim.variants import expected_evidence
from tools.aws import AwsClients


class Case(BaseModel):
    """What one investigation of one (variant of a) scenario gave."""

    scenario: str
    kind: str = "plain"
    accepted: list[Category]
    ranked: list[Category]
    weights: dict[Category, float]
    confidence: float  # of the first hypothesis, as shown
    verdict: str
    evidence_hit: int = 0
    evidence_want: int = 0
    seconds: float = 0.0
    missing: list[str] = Field(default_factory=list)

    @property
    def top1(self) -> bool:
        return bool(self.ranked) and self.ranked[0] in self.accepted

    @property
    def evidence_ok(self) -> bool:
        return self.evidence_hit == self.evidence_want


def evaluate(
    data: dict[str, Any],
    url: str,
    settings: Settings,
    books: list[Runbook],
    *,
    kind: str = "plain",
    source: str = "<scenario>",
) -> Case:
    """Replay `data` into the emulator at `url` (reset first) and investigate it as
    `investigate --offline` does."""
    scenario = parse_scenario(data, source)
    if scenario.expected is None:
        raise ValueError(f"{source}: no `expected` to score against")
    reset_emulator(url)
    began = time.monotonic()
    aws = AwsClients(scenario.region, url, emulator_session(scenario.region))
    run = replay(scenario, aws, settings)
    found, bundle = investigate(
        aws, run.alarm, run.service, books, now=run.telemetry.end, options=gather_options(settings)
    )
    _features, scores = raw_scores(bundle, books)
    top = found.hypotheses[0]
    text = " ".join(top.evidence).lower()
    want = expected_evidence(data)
    return Case(
        scenario=scenario.id,
        kind=kind,
        accepted=[scenario.expected.category, *scenario.expected.acceptable],
        ranked=[h.category for h in found.hypotheses],
        weights={c: round(s.value, 4) for c, s in scores.items()},
        confidence=top.confidence,
        verdict=found.verdict.value,
        evidence_hit=sum(1 for w in want if w.lower() in text),
        evidence_want=len(want),
        seconds=round(time.monotonic() - began, 2),
        missing=list(found.missing),
    )
