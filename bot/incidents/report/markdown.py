"""The incident report as Markdown: what a post-incident review starts from.

Sections, in the order a reviewer reads them: summary, impact window (with the alarm
metric's chart), timeline, root cause (as the team confirmed it, or "unconfirmed"),
evidence, what the bot got right or wrong, follow-ups. Text people wrote is quoted as
data: table cells have their pipes escaped and are kept to one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime

from bot.incidents.report.gather import IncidentRecord, Rated, ThreadMessage
from bot.models import CATEGORY_TITLES, Category, Hypothesis, Investigation
from bot.store.memory import as_category, outcome
from tools.base import fmt_offset

SPARKS = "▁▂▃▄▅▆▇█"
FOLLOW_UP = re.compile(r"^\s*(?:todo|follow[ -]?up|action(?: item)?)\s*[:\-]\s*(.+)", re.I | re.S)
_REACTION_MARKS = {"+1": "👍", "thumbsup": "👍", "-1": "👎", "thumbsdown": "👎", "eyes": "👀"}


@dataclass
class Chart:
    """The alarm metric around the incident: a file attached beside the report."""

    filename: str
    points: list[tuple[datetime, float]] = field(default_factory=list)
    statistic: str = ""


def cell(text: str, limit: int = 300) -> str:
    """Outside text in a table cell: one line, pipes escaped, cut."""
    flat = " ".join(str(text).split())
    flat = flat if len(flat) <= limit else flat[: limit - 1] + "…"
    return flat.replace("|", "\\|")


def sparkline(points: list[tuple[datetime, float]], width: int = 48) -> str:
    values = [v for _, v in points]
    if not values:
        return ""
    step = max(1, len(values) // width)
    values = [max(values[i : i + step]) for i in range(0, len(values), step)]
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    return "".join(SPARKS[min(7, int((v - low) / span * 7.999))] for v in values)


def _title(category: Category | None) -> str:
    return CATEGORY_TITLES[category] if category else "none"


def _hhmm(at: datetime | None) -> str:
    return f"{at:%Y-%m-%d %H:%M} UTC" if at else "—"


def _verdict(rated: Rated) -> tuple[str, Category | None, list[str]]:
    return outcome(rated.analysis, rated.votes)


def _main(record: IncidentRecord) -> Rated | None:
    """The analysis the report stands on: the latest one people rated, else the latest."""
    rated = [r for r in record.analyses if r.votes]
    return (rated or record.analyses or [None])[-1]


def _timeline(
    record: IncidentRecord, messages: list[ThreadMessage] | None, bot_user: str | None
) -> list[tuple[datetime, str, str]]:
    alarm = record.alarm
    rows: list[tuple[datetime, str, str]] = []
    for change in record.changes:
        at = datetime.fromisoformat(str(change["at"]))
        where = ", ".join(change.get("resources") or []) or "?"
        who = change.get("user") or "?"
        source = str(change.get("source", "")).split(".")[0]
        rows.append((at, "change", f"{change['name']} ({source}) on {where} by {who}"))
    main = _main(record)
    if main and main.investigation.onset:
        rows.append(
            (main.investigation.onset, "evidence", "onset: the alarm's metric left its baseline")
        )
    rows.append((alarm.changed_at, "CloudWatch", f"`{alarm.name}` went to ALARM: {alarm.reason}"))
    first = next(
        (d for d in record.deliveries if d.alarm_name == alarm.name and d.state == "ALARM"), None
    )
    for delivery in record.deliveries:
        if delivery is first:
            continue  # the alarm itself, placed at its own state change above
        what = {"ALARM": "fired", "OK": "back to OK"}.get(delivery.state, delivery.state)
        rows.append((delivery.received_at, "CloudWatch", f"`{delivery.alarm_name}` {what}"))
    for r in record.analyses:
        top = r.investigation.top
        what = f"{_title(top.category)} ({top.confidence:.0%})" if top else "no hypothesis"
        rows.append(
            (
                r.analysis.created_at,
                "llm-incident",
                f"analysis #{r.analysis.id} ({r.analysis.source}): {what}",
            )
        )
        for vote in r.votes:
            mark = "👍" if vote.vote > 0 else "👎"
            real = as_category(vote.real_category)
            extra = f", real cause {_title(real)}" if real else ""
            said = f": {vote.wrong}" if vote.wrong else ""
            rows.append(
                (
                    vote.updated_at,
                    f"<@{vote.user_id}>",
                    f"{mark} on analysis #{r.analysis.id}{extra}{said}",
                )
            )
    for note in record.resolutions:
        rows.append((note.created_at, f"<@{note.user_id}>", f"what fixed it: {note.text}"))
    for message in messages or []:
        rows.append((message.at, *_said(message, bot_user)))
    told = any(d.alarm_name == alarm.name and d.state == "OK" for d in record.deliveries)
    if record.incident.resolved_at and not told:
        rows.append((record.incident.resolved_at, "CloudWatch", "the incident was resolved"))
    return sorted(rows, key=lambda row: row[0])


def _said(message: ThreadMessage, bot_user: str | None) -> tuple[str, str]:
    ours = message.bot_id is not None and (bot_user is None or message.user in (bot_user, None))
    who = "llm-incident" if ours else (f"<@{message.user}>" if message.user else "a bot")
    # The bot's own posts by their first line; what people wrote in full (cut in the cell).
    text = (message.text.splitlines() or [""])[0] if ours else message.text
    if message.files:
        names = ", ".join(f.title or f.name or f.id for f in message.files)
        text = f"{text} [files: {names}]".strip()
    if message.reactions:
        marks = " ".join(
            f"{_REACTION_MARKS.get(r.name, ':' + r.name + ':')}×{r.count}"
            for r in message.reactions
        )
        text = f"{text} (reactions {marks})"
    return who, text or "(no text)"


@dataclass
class _Report:
    """What every section reads: the record, the analysis the report stands on, its verdict."""

    record: IncidentRecord
    main: Rated | None
    verdict: str
    confirmed: Category | None
    said: list[str]

    @property
    def investigation(self) -> Investigation | None:
        return self.main.investigation if self.main else None

    @property
    def top(self) -> Hypothesis | None:
        return self.investigation.top if self.investigation else None

    @property
    def t0(self) -> datetime:
        return self.record.alarm.changed_at

    def offset(self, at: datetime) -> str:
        return fmt_offset((at - self.t0).total_seconds() / 60)

    @property
    def agreed(self) -> bool:
        """Whether the analysis' own reading stands (confirmed, or nobody said otherwise)."""
        return self.top is not None and self.confirmed in (None, self.top.category)


def _summary(r: _Report) -> list[str]:
    incident, alarm, top = r.record.incident, r.record.alarm, r.top
    if r.confirmed is not None:
        how = "confirmed by the team" if r.verdict == "confirmed" else "corrected by the team"
        cause = f"**{_title(r.confirmed)}** ({how})"
    else:
        best = f"; the bot's reading: {_title(top.category)} ({top.confidence:.0%})" if top else ""
        cause = f"**unconfirmed**{best}"
    end = incident.resolved_at
    onset = r.investigation.onset if r.investigation else None
    start = min(filter(None, [onset, alarm.changed_at]))
    status = f"resolved {_hhmm(end)}" if end else "still open"
    duration = f", {(end - start).total_seconds() / 60:.0f} minutes from onset" if end else ""
    lines = [
        "## Summary",
        "",
        f"`{alarm.name}` ({alarm.namespace} {alarm.metric} {alarm.statistic} "
        f"{alarm.comparison} {alarm.threshold:g}) of **{incident.service}** fired at "
        f"{_hhmm(alarm.changed_at)}; {status}{duration}. Root cause: {cause}.",
    ]
    if top and r.agreed:
        lines += ["", cell(top.title, 600)]
    return lines


def _impact(r: _Report, chart: Chart | None) -> list[str]:
    alarm, end = r.record.alarm, r.record.incident.resolved_at
    onset = r.investigation.onset if r.investigation else None
    lines = ["## Impact window", "", "| | when (UTC) | from T0 |", "| --- | --- | --- |"]
    if onset:
        lines.append(f"| onset (from the evidence) | {_hhmm(onset)} | {r.offset(onset)} |")
    lines.append(f"| alarm (T0) | {_hhmm(r.t0)} | T0 |")
    lines.append(f"| resolved | {_hhmm(end)} | {r.offset(end) if end else 'still open'} |")
    also = sorted({d.alarm_name for d in r.record.deliveries} - {alarm.name})
    if also:
        lines += ["", "Also firing: " + ", ".join(f"`{a}`" for a in also)]
    if chart:
        lines += ["", f"![{alarm.metric} around the incident]({chart.filename})"]
        if chart.points:
            low, high = min(v for _, v in chart.points), max(v for _, v in chart.points)
            statistic = chart.statistic or alarm.statistic
            lines += [
                "",
                f"`{sparkline(chart.points)}` {alarm.metric} ({statistic}) from {low:g} to "
                f"{high:g}; threshold {alarm.threshold:g}",
            ]
    return lines


def _timeline_section(
    r: _Report, messages: list[ThreadMessage] | None, bot_user: str | None, notes: list[str]
) -> list[str]:
    lines = [
        "## Timeline",
        "",
        "| when (UTC) | from T0 | who | what |",
        "| --- | --- | --- | --- |",
    ]
    for at, who, what in _timeline(r.record, messages, bot_user):
        lines.append(f"| {at:%H:%M:%S} | {r.offset(at)} | {cell(who)} | {cell(what)} |")
    if messages is None:
        why = "; ".join(notes) or "no Slack access"
        lines += ["", f"_The thread's messages were not read: {cell(why)}._"]
    return lines


def _root_cause(r: _Report) -> list[str]:
    lines = ["## Root cause", ""]
    if r.verdict == "confirmed" and r.confirmed:
        lines.append(f"Confirmed by the team (👍): **{_title(r.confirmed)}**.")
    elif r.verdict == "corrected" and r.confirmed:
        said = _title(r.top.category) if r.top else "none"
        lines.append(f"Corrected by the team (👎): **{_title(r.confirmed)}**, not {said}.")
    else:
        lines.append("**Unconfirmed**: nobody has confirmed or corrected the analysis yet.")
    lines += [f"> {cell(text, 500)}" for text in r.said]
    fixes = "; ".join(cell(n.text, 400) for n in r.record.resolutions) or "not recorded."
    return [*lines, "", f"What fixed it: {fixes}"]


def _evidence(r: _Report, chart: Chart | None) -> list[str]:
    lines = ["## Evidence", ""]
    investigation, top = r.investigation, r.top
    if investigation is None or top is None:
        return [*lines, "No analysis was stored."]
    confidence = f"{top.confidence:.0%}"
    lines.append(
        f"The analysis ({investigation.source}): **{_title(top.category)}** ({confidence}): "
        f"{cell(top.title)}"
        + (
            "; undetermined: no single cause was clear enough to name"
            if investigation.verdict == "undetermined"
            else ""
        )
    )
    lines += ["", *[f"- `{cell(line, 400)}`" for line in top.evidence]]
    others = [h for h in investigation.hypotheses[1:] if h.confidence > 0][:3]
    if others:
        named = "; ".join(f"{_title(h.category)} ({h.confidence:.0%})" for h in others)
        lines += ["", f"Other hypotheses: {named}"]
    if investigation.missing:
        lines += ["", "Missing evidence: " + "; ".join(cell(m) for m in investigation.missing)]
    if investigation.seen_before:
        lines += ["", "Seen before:"]
        lines += [
            f"- incident #{p.incident_id} on {p.opened_at:%Y-%m-%d}: {p.verdict}, cause "
            f"{_title(p.confirmed)}, fixed by: {cell(p.resolution or 'not recorded')}"
            for p in investigation.seen_before
        ]
    if chart:
        lines += ["", f"Chart: `{chart.filename}`, attached beside this report."]
    return lines


def _the_bot(r: _Report) -> list[str]:
    lines = ["## What the bot got right or wrong", ""]
    for rated in r.record.analyses:
        verdict, real, _ = _verdict(rated)
        up = sum(1 for x in rated.votes if x.vote > 0)
        down = sum(1 for x in rated.votes if x.vote < 0)
        top = rated.investigation.top
        judged = {
            "confirmed": "right",
            "corrected": f"wrong: the real cause was {_title(real)}",
            "rejected": "wrong (no cause named)",
        }.get(verdict, "not rated")
        took = (rated.analysis.created_at - r.t0).total_seconds() / 60
        lines.append(
            f"- analysis #{rated.analysis.id} ({rated.analysis.source}, {took:.0f} min after "
            f"T0): {_title(top.category) if top else 'nothing'}: **{judged}** "
            f"(👍 {up} · 👎 {down})"
        )
    return lines if r.record.analyses else [*lines, "- no analysis was made"]


def _follow_ups(r: _Report, messages: list[ThreadMessage] | None) -> list[str]:
    steps = r.top.remediation if r.top and r.agreed else []
    follow = [f"- [ ] {cell(step, 400)}" for step in steps[:6]]
    for message in messages or []:
        if message.bot_id is None and (match := FOLLOW_UP.match(message.text)):
            follow.append(f"- [ ] {cell(match.group(1), 400)} (<@{message.user}>)")
    if r.verdict in ("unrated", "rejected"):
        follow.append("- [ ] Confirm the root cause: 👍 the analysis, or 👎 and name the real one")
    if not r.record.resolutions:
        follow.append("- [ ] Record what fixed it: `@llm-incident fixed: …` in the thread")
    if r.investigation:
        missing = r.investigation.missing
        follow += [f"- [ ] Restore the missing evidence source: {cell(m)}" for m in missing]
    return ["## Follow-ups", "", *(follow or ["- none"])]


def render_report(
    record: IncidentRecord,
    messages: list[ThreadMessage] | None,
    *,
    now: datetime,
    bot_user: str | None = None,
    chart: Chart | None = None,
    link: str | None = None,
    notes: list[str] | None = None,
) -> str:
    """The report. `messages` None: the thread could not be read (`notes` say why)."""
    main = _main(record)
    verdict, confirmed, said = _verdict(main) if main else ("unrated", None, [])
    r = _Report(record, main, verdict, confirmed, said)
    where = f" · [thread]({link})" if link else ""
    incident = record.incident
    sections = [
        [f"# Incident report: {incident.service}, `{record.alarm.name}`"],
        [f"_Incident #{incident.id} · written {_hhmm(now)} by llm-incident{where}_"],
        _summary(r),
        _impact(r, chart),
        _timeline_section(r, messages, bot_user, notes or []),
        _root_cause(r),
        _evidence(r, chart),
        _the_bot(r),
        _follow_ups(r, messages),
    ]
    return "\n\n".join("\n".join(section) for section in sections) + "\n"
