"""Memory: the fingerprint of each analysis, what fixed each incident, and the past
incidents of a service with the outcome the team confirmed.

The outcome is read from the votes at lookup time, so a 👍 or a 👎 given days after the
incident still counts: a 👎 naming the real cause (the modal) corrects the analysis, a 👍
confirms its category, a 👎 alone rejects it without saying what it was.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select

from bot.models import Category, Fingerprint, PastIncident
from bot.store.db import Database, retried
from bot.store.tables import (
    Analysis,
    AnalysisFingerprint,
    Feedback,
    Incident,
    ResolutionNote,
)

NOTE_CHARS = 300


class MemoryStore:
    """Fingerprints and resolution notes, and the past incidents they make up."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @retried
    def remember(
        self,
        analysis_id: int,
        incident_id: int,
        service: str,
        fingerprint: Fingerprint,
        changes: list[dict[str, Any]] | None = None,
    ) -> None:
        """Store an analysis' fingerprint once (a resumed job stores nothing twice), under
        the incident's service (the alarm's name when no catalog entry claims it)."""
        with self.db.session() as session:
            if session.get(AnalysisFingerprint, analysis_id) is not None:
                return
            session.add(
                AnalysisFingerprint(
                    analysis_id=analysis_id,
                    incident_id=incident_id,
                    service=service,
                    fingerprint=fingerprint.model_dump(mode="json"),
                    changes=changes or [],
                )
            )

    def changes(self, incident_id: int) -> list[dict[str, Any]]:
        """The changes near the onset its analyses saw, oldest first, each once."""
        with self.db.session() as session:
            rows = session.scalars(
                select(AnalysisFingerprint.changes).where(
                    AnalysisFingerprint.incident_id == incident_id
                )
            ).all()
        seen: dict[tuple[str, str], dict[str, Any]] = {}
        for listed in rows:
            for change in listed or []:
                seen.setdefault((str(change.get("at")), str(change.get("name"))), change)
        return sorted(seen.values(), key=lambda c: str(c.get("at")))

    @retried
    def add_resolution(self, incident_id: int, user_id: str, text: str) -> None:
        with self.db.session() as session:
            session.add(ResolutionNote(incident_id=incident_id, user_id=user_id, text=text[:2000]))

    def resolutions(self, incident_id: int) -> list[ResolutionNote]:
        with self.db.session() as session:
            return list(
                session.scalars(
                    select(ResolutionNote)
                    .where(ResolutionNote.incident_id == incident_id)
                    .order_by(ResolutionNote.id)
                )
            )

    def past(
        self, service: str, exclude_incident: int | None = None, limit: int = 50
    ) -> list[PastIncident]:
        """The service's latest incidents (one each: its latest rated analysis, else its
        latest analysis), with the outcome the votes say and what fixed them."""
        with self.db.session() as session:
            query = (
                select(AnalysisFingerprint, Analysis, Incident)
                .join(Analysis, Analysis.id == AnalysisFingerprint.analysis_id)
                .join(Incident, Incident.id == AnalysisFingerprint.incident_id)
                .where(AnalysisFingerprint.service == service)
                .order_by(AnalysisFingerprint.analysis_id.desc())
                .limit(limit * 3)
            )
            if exclude_incident is not None:
                query = query.where(AnalysisFingerprint.incident_id != exclude_incident)
            rows = session.execute(query).all()
            ids = [analysis.id for _, analysis, _ in rows]
            votes: dict[int, list[Feedback]] = {}
            for vote in session.scalars(select(Feedback).where(Feedback.analysis_id.in_(ids))):
                votes.setdefault(vote.analysis_id, []).append(vote)
            incidents = {incident.id for _, _, incident in rows}
            notes: dict[int, str] = {}
            for note in session.scalars(
                select(ResolutionNote)
                .where(ResolutionNote.incident_id.in_(incidents))
                .order_by(ResolutionNote.id)
            ):
                notes[note.incident_id] = note.text  # the latest note wins
        chosen: dict[int, tuple[AnalysisFingerprint, Analysis, Incident]] = {}
        for row in rows:  # newest analysis first: keep it, unless an older one was rated
            stored, analysis, incident = row
            kept = chosen.get(incident.id)
            if kept is None or (not votes.get(kept[1].id) and votes.get(analysis.id)):
                chosen[incident.id] = row
        found: list[PastIncident] = []
        for stored, analysis, incident in chosen.values():
            try:
                fingerprint = Fingerprint.model_validate(stored.fingerprint)
            except ValidationError:
                continue  # a row this version cannot read is skipped, not fatal
            verdict, confirmed, said = outcome(analysis, votes.get(analysis.id, []))
            found.append(
                PastIncident(
                    incident_id=incident.id,
                    analysis_id=analysis.id,
                    opened_at=incident.opened_at,
                    fingerprint=fingerprint,
                    verdict=verdict,
                    confirmed=confirmed,
                    notes=said,
                    resolution=notes.get(incident.id),
                )
            )
        return found[:limit]


def outcome(analysis: Analysis, votes: list[Feedback]) -> tuple[str, Category | None, list[str]]:
    """(verdict, the confirmed cause, what the 👎 modals said) from an analysis' votes."""
    said = [
        text[:NOTE_CHARS]
        for vote in votes
        if vote.vote < 0
        for text in (vote.wrong, vote.comment)
        if text
    ]
    named = Counter(v.real_category for v in votes if v.vote < 0 and v.real_category)
    up = sum(1 for v in votes if v.vote > 0)
    down = sum(1 for v in votes if v.vote < 0)
    own = as_category(analysis.category)
    if named:
        real = as_category(named.most_common(1)[0][0])
        if real is not None:
            return ("confirmed" if real == own else "corrected"), real, said
    if up and up >= down and own is not None:
        return "confirmed", own, said
    if down:
        return "rejected", None, said
    return "unrated", None, said


def as_category(value: str | None) -> Category | None:
    """A stored category id as a Category; None for none or one this version lacks."""
    try:
        return Category(value) if value else None
    except ValueError:
        return None
