"""Analyses: what an investigation concluded, what it cost, and where it was posted."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import select

from bot.models import Investigation
from bot.store.db import Database, retried
from bot.store.tables import Analysis


class AnalysisStore:
    """Stored analyses, found by id, job, message or incident."""

    def __init__(self, db: Database) -> None:
        self.db = db

    @retried
    def add(
        self,
        incident_id: int,
        investigation: Investigation,
        evidence: str,
        seconds: float,
        job_id: int | None = None,
    ) -> Analysis:
        top = investigation.top
        usage = investigation.usage
        with self.db.session() as session:
            analysis = Analysis(
                incident_id=incident_id,
                job_id=job_id,
                source=investigation.source,
                category=top.category.value if top else None,
                confidence=top.confidence if top else 0.0,
                investigation=json.loads(investigation.model_dump_json()),
                evidence=evidence,
                model=investigation.model,
                prompt_version=investigation.prompt_version,
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_input_tokens=usage.cache_read_input_tokens,
                cache_creation_input_tokens=usage.cache_creation_input_tokens,
                cost_usd=usage.cost_usd,
                seconds=seconds,
            )
            session.add(analysis)
            session.flush()
            return analysis

    def for_job(self, job_id: int) -> Analysis | None:
        with self.db.session() as session:
            return session.scalars(select(Analysis).where(Analysis.job_id == job_id)).first()

    @retried
    def set_message(self, analysis_id: int, channel: str, ts: str) -> None:
        with self.db.session() as session:
            analysis = session.get(Analysis, analysis_id)
            if analysis is not None:
                analysis.channel, analysis.message_ts = channel, ts

    def get(self, analysis_id: int) -> Analysis | None:
        with self.db.session() as session:
            return session.get(Analysis, analysis_id)

    def by_message(self, channel: str, ts: str) -> Analysis | None:
        with self.db.session() as session:
            return session.scalars(
                select(Analysis).where(Analysis.channel == channel, Analysis.message_ts == ts)
            ).first()

    def latest(self, incident_id: int) -> Analysis | None:
        with self.db.session() as session:
            return session.scalars(
                select(Analysis)
                .where(Analysis.incident_id == incident_id)
                .order_by(Analysis.id.desc())
            ).first()

    def since(self, since: datetime) -> list[Analysis]:
        with self.db.session() as session:
            return list(session.scalars(select(Analysis).where(Analysis.created_at >= since)))
