"""Mentions in an incident thread: follow-up questions (`@llm-incident why …?`), what fixed
it (`@llm-incident fixed: …`, kept for "Seen before" and the report), `report`; App Home."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import App

from bot.models import CATEGORY_TITLES, Investigation
from bot.slack import blocks
from bot.slack.context import BotContext
from bot.slack.report import make_report, post_report

_MENTION = re.compile(r"<@[A-Z0-9]+>")
# `@llm-incident fixed: rolled back v42` records what fixed the incident.
FIXED = re.compile(
    r"^\s*(?:fixed|resolved|resolution|fix)\s*(?:by)?\s*[:\-]\s*(?P<text>\S.*)", re.I | re.S
)
_WORD = re.compile(r"[A-Za-z][A-Za-z0-9_.-]{3,}")
STOP_WORDS = {
    "what",
    "why",
    "when",
    "which",
    "does",
    "this",
    "that",
    "there",
    "with",
    "from",
    "have",
    "about",
    "the",
}


def answer_from_evidence(
    question: str, investigation: Investigation, evidence: str, llm_configured: bool = False
) -> str:
    """An answer from the stored analysis: its verdict and the evidence lines the question
    is about (words shared with it), saying plainly where it comes from."""
    top = investigation.top
    source = (
        "the stored evidence and analysis"
        if llm_configured
        else ("the stored evidence and the triage")
    )
    prefix = "" if llm_configured else "No LLM is configured: "
    lines = [f"_{prefix}this answer comes from {source}._"]
    if top is not None and top.confidence > 0:
        best = "*Undetermined*; best candidate" if investigation.verdict == "undetermined" else ""
        lines.append(
            f"{best or '*Most likely*'}: {CATEGORY_TITLES[top.category]} "
            f"({top.confidence:.0%}): {top.title}"
        )
    words = {w.lower() for w in _WORD.findall(question)} - STOP_WORDS
    matching = [
        line.strip()
        for line in evidence.splitlines()
        if line.startswith("-") and any(w in line.lower() for w in words)
    ]
    if matching:
        lines.append("*Evidence about that*")
        lines += [f"• `{blocks.mrkdwn_escape(line[2:][:300])}`" for line in matching[:8]]
    elif top is not None:
        lines.append("*Evidence behind it*")
        lines += [f"• `{blocks.mrkdwn_escape(line[:300])}`" for line in top.evidence[:6]]
    others = [h for h in investigation.hypotheses[1:] if h.confidence > 0][:2]
    if others:
        lines.append(
            "*Also possible*: "
            + "; ".join(f"{CATEGORY_TITLES[h.category]} ({h.confidence:.0%})" for h in others)
        )
    return blocks.clip("\n".join(lines))


def register(app: App, ctx: BotContext) -> None:
    store = ctx.runtime.store

    @app.event("app_mention")
    def mention(event: dict[str, Any], say: Any) -> None:
        thread_ts = event.get("thread_ts")
        channel = event.get("channel", "")
        incident = store.incidents.by_thread(channel, thread_ts) if thread_ts else None
        if incident is None:
            say(
                text="Mention me inside an incident thread and I answer from its evidence. "
                "Use `/llm-incident analyze <alarm|service>` to start one.",
                thread_ts=event.get("ts"),
            )
            return
        question = _MENTION.sub("", event.get("text", "")).strip()
        if (fixed := FIXED.match(question)) is not None:
            store.memory.add_resolution(incident.id, event.get("user", ""), fixed.group("text"))
            say(
                text="Noted what fixed it. The incident report shows it, and so will "
                '"Seen before" when this service fails like this again.',
                thread_ts=thread_ts,
            )
            return
        if question.lower() == "report":
            report = make_report(store, incident.id, client=ctx.poster.client, aws=ctx.runtime.aws)
            if report is not None:
                post_report(ctx.poster, channel, thread_ts, report)
            return
        analysis = store.analyses.latest(incident.id)
        if analysis is None:
            say(
                text="The investigation is still running; I will answer once it has evidence.",
                thread_ts=thread_ts,
            )
            return
        investigation = Investigation.model_validate(analysis.investigation)
        llm = ctx.runtime.settings.llm_provider not in (None, "none")
        answer = answer_from_evidence(question, investigation, analysis.evidence, llm)
        say(text=answer, thread_ts=thread_ts)

    @app.event("app_home_opened")
    def home(event: dict[str, Any], client: Any) -> None:
        incidents = store.incidents.list_open()
        rows = [(i.service, i.alarm_name, "") for i in incidents]
        tally = store.feedback.since(datetime.now(UTC) - timedelta(days=7))
        client.views_publish(user_id=event["user"], view=blocks.home_view(rows, tally))
