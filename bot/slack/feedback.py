"""👍 / 👎 on an analysis: buttons and reactions, one vote per user, the 👎 modal."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import App

from bot.engine.runbooks import by_category
from bot.models import CATEGORY_TITLES, Alarm, Category, Investigation
from bot.observe.stats import bucket_of, compute_stats
from bot.slack import blocks
from bot.slack.context import BotContext

log = logging.getLogger(__name__)
CALIBRATION_PERIOD = timedelta(days=90)
REACTIONS = {"+1": 1, "thumbsup": 1, "-1": -1, "thumbsdown": -1}


def refresh_tally(ctx: BotContext, analysis_id: int) -> None:
    """Re-render the analysis message so it shows the current tally."""
    store = ctx.runtime.store
    analysis = store.analyses.get(analysis_id)
    if analysis is None or not analysis.channel or not analysis.message_ts:
        return
    incident = store.incidents.get(analysis.incident_id)
    if incident is None:
        return
    investigation = Investigation.model_validate(analysis.investigation)
    alarm = Alarm.model_validate(incident.alarm)
    top = investigation.top
    runbook = by_category(ctx.runtime.runbooks).get(top.category) if top else None
    service = ctx.runtime.catalog.find(incident.service)
    text, body = blocks.analysis_message(
        investigation,
        alarm,
        analysis_id,
        store.feedback.tally(analysis_id),
        runbook,
        service.all_log_groups() if service else [],
    )
    ctx.poster.update(analysis.channel, analysis.message_ts, text, body)


def correction_note(store: Any, analysis_id: int, real_category: str | None) -> str:
    """What the 👎 said, beside how confidences like this one have fared: the analysis'
    shown confidence, its bucket, and the observed accuracy of that bucket over the last
    90 days of votes, so a correction is read against the bot's calibration."""
    analysis = store.analyses.get(analysis_id)
    stats = compute_stats(store, datetime.now(UTC) - CALIBRATION_PERIOD)
    bucket = bucket_of(stats.calibration, analysis.confidence)
    said = CATEGORY_TITLES.get(Category(analysis.category)) if analysis.category else None
    real = CATEGORY_TITLES.get(Category(real_category)) if real_category else None
    head = "Thanks, your correction is recorded"
    head += f": the real cause was {real}." if real else "."
    shown = f"The analysis said {said or 'no cause'} at {analysis.confidence:.0%} confidence."
    if bucket.labelled:
        fared = (
            f"Analyses shown at {bucket.label} were right {bucket.accuracy:.0%} of the time "
            f"({bucket.correct} of {bucket.labelled} labelled votes, last 90 days)."
        )
    else:
        fared = f"No labelled votes yet on analyses shown at {bucket.label}."
    return f"{head} {shown} {fared}"


def _analysis_id(value: Any) -> int | None:
    try:
        return int(str(value))
    except ValueError:
        return None


def register(app: App, ctx: BotContext) -> None:
    store = ctx.runtime.store

    @app.action(blocks.FEEDBACK_UP)
    def upvote(ack: Any, body: dict[str, Any], action: dict[str, Any]) -> None:
        ack()
        analysis_id = _analysis_id(action.get("value"))
        if analysis_id is None or store.analyses.get(analysis_id) is None:
            return
        store.feedback.vote(analysis_id, body["user"]["id"], 1)
        ctx.runtime.telemetry.feedback(1)
        refresh_tally(ctx, analysis_id)

    @app.action(blocks.FEEDBACK_DOWN)
    def downvote(ack: Any, body: dict[str, Any], action: dict[str, Any], client: Any) -> None:
        ack()
        analysis_id = _analysis_id(action.get("value"))
        if analysis_id is None or store.analyses.get(analysis_id) is None:
            return
        store.feedback.vote(analysis_id, body["user"]["id"], -1)
        ctx.runtime.telemetry.feedback(-1)
        refresh_tally(ctx, analysis_id)
        channel = body.get("channel", {}).get("id", "")
        ts = body.get("message", {}).get("ts", "")
        client.views_open(
            trigger_id=body["trigger_id"], view=blocks.downvote_modal(analysis_id, channel, ts)
        )

    @app.view(blocks.DOWNVOTE_MODAL)
    def downvote_details(ack: Any, body: dict[str, Any], view: dict[str, Any], client: Any) -> None:
        ack()
        metadata = view.get("private_metadata", "").split("|")
        analysis_id = _analysis_id(metadata[0])
        if analysis_id is None or store.analyses.get(analysis_id) is None:
            return
        values = view.get("state", {}).get("values", {})

        def field(block: str) -> str | None:
            item = values.get(block, {}).get("value", {})
            chosen = item.get("selected_option") or {}
            return chosen.get("value") or item.get("value")

        store.feedback.vote(
            analysis_id,
            body["user"]["id"],
            -1,
            wrong=field("wrong"),
            real_category=field("category"),
            comment=field("comment"),
        )
        channel = metadata[1] if len(metadata) > 1 else ""
        if channel:
            client.chat_postEphemeral(
                channel=channel,
                user=body["user"]["id"],
                text=correction_note(store, analysis_id, field("category")),
            )

    @app.event("reaction_added")
    def reaction(event: dict[str, Any]) -> None:
        vote = REACTIONS.get(event.get("reaction", "").split("::", 1)[0])
        item = event.get("item", {})
        if vote is None or item.get("type") != "message":
            return
        analysis = store.analyses.by_message(item.get("channel", ""), item.get("ts", ""))
        if analysis is None:
            return
        store.feedback.vote(analysis.id, event["user"], vote)
        ctx.runtime.telemetry.feedback(vote)
        refresh_tally(ctx, analysis.id)
