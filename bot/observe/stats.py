"""How well the bot does, from the store: `llm-incident stats`, `/llm-incident stats` and the
weekly digest all show this one `Stats`.

Every figure is over the analyses made in the period, with the votes cast on them:

- acceptance: 👍 over all votes;
- accuracy: over the votes that say what the root cause was. A 👍 confirms the analysis'
  category; a 👎 whose modal named the real category is correct only when that category is
  the analysis' own (the category was right, something else was wrong). A 👎 without a
  category says nothing about the category and is not counted;
- time to first analysis: from the alarm's state change (T0) to when the incident's
  first analysis was stored, just before it is posted;
- calibration: per bucket of the confidence shown (the calibrated probability of the
  first hypothesis), the analyses in it and how often the labelled votes on them said the
  category was right. A well-calibrated bot is right about 90% of the time at 90%.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field, computed_field
from sqlalchemy import func, select

from bot.models import parse_utc
from bot.store import Analysis, Feedback, Incident, Store

_SINCE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
NO_MODEL = "none (triage)"
NO_VERSION = "none"


def parse_since(text: str) -> timedelta:
    """`7d`, `24h`, `2w`, `90m` -> a timedelta; ValueError otherwise."""
    match = _SINCE.match(text or "")
    if not match:
        raise ValueError(f"{text!r} is not a period such as 7d, 24h, 2w or 90m")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


class Breakdown(BaseModel):
    """The figures of one category, model or prompt version."""

    key: str
    analyses: int = 0
    up: int = 0
    down: int = 0
    labelled: int = 0
    correct: int = 0
    cost_usd: float = 0.0

    @computed_field  # type: ignore[prop-decorator]
    @property
    def acceptance(self) -> float | None:
        return self.up / (self.up + self.down) if self.up + self.down else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None


# Buckets of the confidence shown; the same as `bench/calibrate.py`'s reliability table.
BUCKETS = ((0.0, 0.2), (0.2, 0.4), (0.4, 0.6), (0.6, 0.8), (0.8, 1.0001))


class Bucket(BaseModel):
    """Analyses whose shown confidence fell in [low, high), with the votes' verdicts."""

    low: float
    high: float
    analyses: int = 0
    confidence_sum: float = 0.0
    labelled: int = 0
    correct: int = 0

    @property
    def label(self) -> str:
        return f"{self.low:.0%}-{min(self.high, 1.0):.0%}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def mean_confidence(self) -> float | None:
        return self.confidence_sum / self.analyses if self.analyses else None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def accuracy(self) -> float | None:
        return self.correct / self.labelled if self.labelled else None

    def holds(self, confidence: float) -> bool:
        return self.low <= confidence < self.high


def buckets() -> list[Bucket]:
    return [Bucket(low=low, high=high) for low, high in BUCKETS]


def bucket_of(rows: list[Bucket], confidence: float) -> Bucket:
    return next(b for b in rows if b.holds(min(max(confidence, 0.0), 1.0)))


class Stats(BaseModel):
    since: datetime
    until: datetime
    analyses: int = 0
    by_source: dict[str, int] = Field(default_factory=dict)
    up: int = 0
    down: int = 0
    acceptance: float | None = None
    labelled: int = 0
    correct: int = 0
    accuracy: float | None = None
    by_category: list[Breakdown] = Field(default_factory=list)
    by_model: list[Breakdown] = Field(default_factory=list)
    by_prompt_version: list[Breakdown] = Field(default_factory=list)
    input_tokens: int = 0  # uncached, cache reads and cache writes
    output_tokens: int = 0
    cache_read_input_tokens: int = 0
    cost_usd: float = 0.0
    input_tokens_per_analysis: float = 0.0
    output_tokens_per_analysis: float = 0.0
    cost_per_analysis_usd: float = 0.0
    incidents: int = 0  # incidents whose first analysis falls in the period
    time_to_first_analysis_p50_s: float | None = None
    time_to_first_analysis_p90_s: float | None = None
    calibration: list[Bucket] = Field(default_factory=buckets)


def judgement(vote: int, real_category: str | None, category: str | None) -> bool | None:
    """Whether a vote says the analysis' category was right (None: it does not say)."""
    if vote > 0:
        return True
    if real_category:
        return real_category == category
    return None


def percentile(values: list[float], q: float) -> float | None:
    """The q-th percentile (0..100), linear between closest ranks (numpy's default)."""
    if not values:
        return None
    ordered = sorted(values)
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def first_analysis_id(store: Store, incident_id: int) -> int | None:
    with store.session() as session:
        return session.scalar(
            select(func.min(Analysis.id)).where(Analysis.incident_id == incident_id)
        )


def alarm_time(incident: Incident) -> datetime:
    """T0 of an incident: its first alarm's state change, else when it was opened."""
    return parse_utc((incident.alarm or {}).get("changed_at")) or incident.opened_at


def compute_stats(store: Store, since: datetime, until: datetime | None = None) -> Stats:
    until = until or datetime.now(UTC)
    with store.session() as session:
        analyses = list(
            session.scalars(
                select(Analysis)
                .where(Analysis.created_at >= since, Analysis.created_at <= until)
                .order_by(Analysis.id)
            )
        )
        ids = [a.id for a in analyses]
        votes = list(session.scalars(select(Feedback).where(Feedback.analysis_id.in_(ids))))
        incident_ids = sorted({a.incident_id for a in analyses})
        incidents = {
            i.id: i for i in session.scalars(select(Incident).where(Incident.id.in_(incident_ids)))
        }
        firsts = dict(
            session.execute(
                select(Analysis.incident_id, func.min(Analysis.id))
                .where(Analysis.incident_id.in_(incident_ids))
                .group_by(Analysis.incident_id)
            ).all()
        )
    stats = Stats(since=since, until=until, analyses=len(analyses))
    by_id = {a.id: a for a in analyses}
    groups: dict[str, dict[str, Breakdown]] = {
        "category": {},
        "model": {},
        "prompt_version": {},
    }
    keys: dict[str, Callable[[Analysis], str]] = {
        "category": lambda a: a.category or "none",
        "model": lambda a: a.model or NO_MODEL,
        "prompt_version": lambda a: a.prompt_version or NO_VERSION,
    }

    def rows(analysis: Analysis) -> Iterable[Breakdown]:
        for name, key in keys.items():
            value = key(analysis)
            yield groups[name].setdefault(value, Breakdown(key=value))

    sources: dict[str, int] = defaultdict(int)
    for analysis in analyses:
        sources[analysis.source] += 1
        tokens_in = (
            analysis.input_tokens
            + analysis.cache_read_input_tokens
            + analysis.cache_creation_input_tokens
        )
        stats.input_tokens += tokens_in
        stats.output_tokens += analysis.output_tokens
        stats.cache_read_input_tokens += analysis.cache_read_input_tokens
        stats.cost_usd += analysis.cost_usd
        for row in rows(analysis):
            row.analyses += 1
            row.cost_usd += analysis.cost_usd
        bucket = bucket_of(stats.calibration, analysis.confidence)
        bucket.analyses += 1
        bucket.confidence_sum += analysis.confidence
    for vote in votes:
        analysis = by_id[vote.analysis_id]
        verdict = judgement(vote.vote, vote.real_category, analysis.category)
        for target in (stats, *rows(analysis)):
            if vote.vote > 0:
                target.up += 1
            else:
                target.down += 1
            if verdict is not None:
                target.labelled += 1
                target.correct += verdict
        if verdict is not None:
            bucket = bucket_of(stats.calibration, analysis.confidence)
            bucket.labelled += 1
            bucket.correct += verdict
    stats.by_source = dict(sorted(sources.items()))
    stats.acceptance = stats.up / (stats.up + stats.down) if stats.up + stats.down else None
    stats.accuracy = stats.correct / stats.labelled if stats.labelled else None
    order = lambda rows: sorted(rows.values(), key=lambda r: (-r.analyses, r.key))  # noqa: E731
    stats.by_category = order(groups["category"])
    stats.by_model = order(groups["model"])
    stats.by_prompt_version = order(groups["prompt_version"])
    if analyses:
        stats.input_tokens_per_analysis = stats.input_tokens / len(analyses)
        stats.output_tokens_per_analysis = stats.output_tokens / len(analyses)
        stats.cost_per_analysis_usd = stats.cost_usd / len(analyses)
    stats.cost_usd = round(stats.cost_usd, 6)
    delays = []
    for incident_id, first in firsts.items():
        analysis = by_id.get(first)
        incident = incidents.get(incident_id)
        if analysis is None or incident is None:
            continue  # its first analysis is older than the period
        delays.append(max((analysis.created_at - alarm_time(incident)).total_seconds(), 0.0))
    stats.incidents = len(delays)
    stats.time_to_first_analysis_p50_s = percentile(delays, 50)
    stats.time_to_first_analysis_p90_s = percentile(delays, 90)
    return stats


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"


def _seconds(value: float | None) -> str:
    if value is None:
        return "n/a"
    return f"{value:.0f}s" if value < 120 else f"{value / 60:.1f} min"


def _rows(
    title: str, rows: list[Breakdown], bold: Callable[[str], str], limit: int = 8
) -> list[str]:
    lines = [bold(title)]
    for row in rows[:limit]:
        lines.append(
            f"• `{row.key}`: {row.analyses} analyses · 👍 {row.up} 👎 {row.down} · "
            f"acceptance {_share(row.acceptance)} · accuracy {_share(row.accuracy)} "
            f"({row.correct}/{row.labelled}) · ${row.cost_usd:.2f}"
        )
    if len(rows) > limit:
        lines.append(f"• … {len(rows) - limit} more")
    return lines


def calibration_lines(rows: list[Bucket], bold: Callable[[str], str]) -> list[str]:
    """Confidence shown against how often it was right, bucket by bucket."""
    lines = [bold("Confidence shown vs. observed accuracy")]
    for row in rows:
        if not row.analyses:
            continue
        lines.append(
            f"• {row.label}: {row.analyses} analyses, mean {_share(row.mean_confidence)} · "
            f"right {_share(row.accuracy)} ({row.correct} of {row.labelled} labelled votes)"
        )
    return lines


def render(stats: Stats, title: str | None = None, markdown: bool = True) -> str:
    """The figures as Slack mrkdwn (`markdown`) or plain text for a terminal."""

    def bold(text: str) -> str:
        return f"*{text}*" if markdown else text

    days = (stats.until - stats.since) / timedelta(days=1)
    period = f"Last {days:.0f} days" if days >= 1.5 else f"Last {days * 24:.0f} hours"
    head = title or period
    sources = ", ".join(f"{n} {source}" for source, n in stats.by_source.items()) or "none"
    lines = [
        bold(f"{head}: {stats.analyses} analyses ({sources})"),
        f"👍 {stats.up} · 👎 {stats.down} · acceptance {_share(stats.acceptance)} · "
        f"accuracy {_share(stats.accuracy)} ({stats.correct} of {stats.labelled} labelled votes)",
        f"Tokens per analysis: {stats.input_tokens_per_analysis:,.0f} in · "
        f"{stats.output_tokens_per_analysis:,.0f} out · cost ${stats.cost_per_analysis_usd:.4f} "
        f"per analysis, ${stats.cost_usd:.2f} in all",
        f"Time to first analysis over {stats.incidents} incidents: "
        f"p50 {_seconds(stats.time_to_first_analysis_p50_s)} · "
        f"p90 {_seconds(stats.time_to_first_analysis_p90_s)}",
    ]
    if stats.analyses:
        lines += calibration_lines(stats.calibration, bold)
        lines += _rows("By category", stats.by_category, bold)
        lines += _rows("By model", stats.by_model, bold)
        lines += _rows("By prompt version", stats.by_prompt_version, bold)
    return "\n".join(lines)
