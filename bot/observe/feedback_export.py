"""`llm-incident export-feedback`: every rated analysis with its evidence, answer and label.

The file is the raw material for judging a prompt or a model change offline: the exact
evidence the analysis was made from (already redacted when it was stored), what it
answered, and what the on-call engineers said about it. Voters are counted, not named.
"""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from bot.observe.stats import judgement
from bot.store import Analysis, Feedback, Incident, Store


class Vote(BaseModel):
    vote: int
    wrong: str | None = None
    real_category: str | None = None
    comment: str | None = None
    at: datetime


class Label(BaseModel):
    """What the votes say: the tally, the category they confirm, and whether the
    analysis' category was right (None when no vote says)."""

    up: int
    down: int
    category: str | None
    correct: bool | None


class RatedAnalysis(BaseModel):
    analysis_id: int
    incident_id: int
    service: str
    alarm: str
    created_at: datetime
    source: str
    model: str | None
    prompt_version: str | None
    category: str | None
    confidence: float
    evidence: str
    answer: dict[str, Any]
    votes: list[Vote]
    label: Label


def confirmed_category(category: str | None, votes: list[Feedback]) -> str | None:
    """The root cause the voters confirmed: the latest vote that names one (a 👍 names the
    analysis' category, a 👎 the category chosen in its modal); None if none does."""
    for vote in sorted(votes, key=lambda v: (v.updated_at, v.id), reverse=True):
        if vote.vote > 0 and category:
            return category
        if vote.vote < 0 and vote.real_category:
            return vote.real_category
    return None


def label(category: str | None, votes: list[Feedback]) -> Label:
    verdicts = [judgement(v.vote, v.real_category, category) for v in votes]
    said = [v for v in verdicts if v is not None]
    return Label(
        up=sum(1 for v in votes if v.vote > 0),
        down=sum(1 for v in votes if v.vote < 0),
        category=confirmed_category(category, votes),
        correct=(sum(said) * 2 >= len(said)) if said else None,
    )


def rated_analyses(store: Store) -> list[RatedAnalysis]:
    with store.session() as session:
        votes = list(session.scalars(select(Feedback).order_by(Feedback.analysis_id, Feedback.id)))
        ids = sorted({v.analysis_id for v in votes})
        analyses = list(session.scalars(select(Analysis).where(Analysis.id.in_(ids))))
        incidents = {
            i.id: i
            for i in session.scalars(
                select(Incident).where(Incident.id.in_({a.incident_id for a in analyses}))
            )
        }
    by_analysis: dict[int, list[Feedback]] = {}
    for vote in votes:
        by_analysis.setdefault(vote.analysis_id, []).append(vote)
    rated = []
    for analysis in sorted(analyses, key=lambda a: a.id):
        incident = incidents[analysis.incident_id]
        mine = by_analysis[analysis.id]
        rated.append(
            RatedAnalysis(
                analysis_id=analysis.id,
                incident_id=analysis.incident_id,
                service=incident.service,
                alarm=incident.alarm_name,
                created_at=analysis.created_at,
                source=analysis.source,
                model=analysis.model,
                prompt_version=analysis.prompt_version,
                category=analysis.category,
                confidence=analysis.confidence,
                evidence=analysis.evidence,
                answer=analysis.investigation,
                votes=[
                    Vote(
                        vote=v.vote,
                        wrong=v.wrong,
                        real_category=v.real_category,
                        comment=v.comment,
                        at=v.updated_at,
                    )
                    for v in mine
                ],
                label=label(analysis.category, mine),
            )
        )
    return rated


def export_feedback(store: Store, out: Path) -> int:
    """Write one JSON object per rated analysis; returns how many."""
    rated = rated_analyses(store)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for row in rated:
            handle.write(json.dumps(row.model_dump(mode="json"), ensure_ascii=False) + "\n")
    return len(rated)
