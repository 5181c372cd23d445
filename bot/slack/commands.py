"""`/llm-incident`: acknowledged at once, the work done after the ack (lazy listener)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from slack_bolt import App

from bot.runbooks import search
from bot.slack import blocks
from bot.slack.context import BotContext

log = logging.getLogger(__name__)
COMMAND = "/llm-incident"
SUBCOMMANDS = {"help", "analyze", "status", "stats", "runbooks"}
USAGE = (
    "Usage: `/llm-incident analyze <alarm name | service> [question]` · `status` · `stats` · "
    "`runbooks [query]` · `help`"
)


def parse(text: str) -> tuple[str, str]:
    """`analyze chat-api why so slow?` -> ("analyze", "chat-api why so slow?")."""
    head, _, rest = (text or "").strip().partition(" ")
    return head.lower(), rest.strip()


def register(app: App, ctx: BotContext) -> None:
    def ack_command(ack: Any, command: dict[str, Any]) -> None:
        name, rest = parse(command.get("text", ""))
        if name in ("", "help"):
            ack(response_type="ephemeral", text=blocks.HELP)
        elif name not in SUBCOMMANDS or (name == "analyze" and not rest):
            ack(response_type="ephemeral", text=USAGE)
        else:
            ack(response_type="ephemeral", text=f"Working on `{name}`…")

    def run_command(command: dict[str, Any], respond: Any) -> None:
        name, rest = parse(command.get("text", ""))
        if name not in SUBCOMMANDS or name == "help" or (name == "analyze" and not rest):
            return  # answered by the ack
        try:
            respond(**_answer(ctx, name, rest, command))
        except Exception:
            log.exception("/llm-incident %s failed", name)
            respond(response_type="ephemeral", text=f"Sorry, `{name}` failed; the error is logged.")

    app.command(COMMAND)(ack=ack_command, lazy=[run_command])


def _answer(ctx: BotContext, name: str, rest: str, command: dict[str, Any]) -> dict[str, Any]:
    if name == "runbooks":
        found = search(ctx.runtime.runbooks, rest)
        lines = [f"• `{b.id}` ({b.severity}) {b.title}" for b in found[:20]]
        return {"response_type": "ephemeral", "text": "\n".join(lines) or "No runbook matches."}
    if name == "status":
        incidents = ctx.runtime.store.open_incidents()
        lines = [
            f"• *{i.service}*: {i.alarm_name} since {i.opened_at:%H:%M} UTC" for i in incidents[:30]
        ]
        return {
            "response_type": "ephemeral",
            "text": "*Open incidents*\n" + ("\n".join(lines) or "None."),
        }
    if name == "stats":
        since = datetime.now(UTC) - timedelta(days=7)
        analyses = ctx.runtime.store.analyses_since(since)
        up, down = ctx.runtime.store.feedback_since(since)
        rate = f"{up / (up + down):.0%}" if up + down else "no votes yet"
        cost = sum(a.cost_usd for a in analyses)
        return {
            "response_type": "ephemeral",
            "text": f"*Last 7 days*: {len(analyses)} analyses · 👍 {up} · 👎 {down} · "
            f"acceptance {rate} · LLM cost ${cost:.2f}",
        }
    target, _, question = rest.partition(" ")
    alarm, service = ctx.incidents.find_alarm(target)
    if alarm is None:
        return {
            "response_type": "ephemeral",
            "text": f"No CloudWatch alarm or service named `{target}`.",
        }
    delivery = ctx.incidents.request(alarm, service, question)
    assert delivery.incident is not None  # noqa: S101 - a request always has its incident
    thread = ctx.incidents.thread_of(delivery.incident.id)
    if thread is None:
        return {
            "response_type": "ephemeral",
            "text": f"Investigating `{alarm.name}`; its thread is not posted yet.",
        }
    channel, ts = thread
    link = ctx.permalink(channel, ts)
    return {
        "response_type": "in_channel",
        "text": f"Investigating `{alarm.name}` in the incident thread: {link}",
    }
