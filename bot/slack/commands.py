"""`/llm-incident`: acknowledged at once, the work done after the ack (lazy listener)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from slack_bolt import App

from bot.engine.runbooks import search
from bot.incidents.report import latest_in_channel
from bot.observe.stats import compute_stats, parse_since, render
from bot.slack import blocks
from bot.slack.access import Access
from bot.slack.context import BotContext
from bot.slack.report import make_report, post_report, thread_of_link

log = logging.getLogger(__name__)
COMMAND = "/llm-incident"
SUBCOMMANDS = {"help", "analyze", "status", "stats", "runbooks", "report"}
USAGE = (
    "Usage: `/llm-incident analyze <alarm name | service> [question]` · `status` · `stats [7d]` · "
    "`runbooks [query]` · `report [incident id | thread link]` · `help`"
)


def parse(text: str) -> tuple[str, str]:
    """`analyze chat-api why so slow?` -> ("analyze", "chat-api why so slow?")."""
    head, _, rest = (text or "").strip().partition(" ")
    return head.lower(), rest.strip()


def register(app: App, ctx: BotContext) -> None:
    cfg = ctx.runtime.settings
    access = Access(ctx.poster.client, cfg.allowed_channels, cfg.allowed_usergroups)

    def ack_command(ack: Any, command: dict[str, Any]) -> None:
        name, rest = parse(command.get("text", ""))
        if (refusal := access.refusal(command)) is not None:
            log.info(
                "refused /llm-incident from %s in %s",
                command.get("user_id"),
                command.get("channel_id"),
            )
            ack(response_type="ephemeral", text=refusal)
        elif name in ("", "help"):
            ack(response_type="ephemeral", text=blocks.HELP)
        elif name not in SUBCOMMANDS or (name == "analyze" and not rest):
            ack(response_type="ephemeral", text=USAGE)
        else:
            ack(response_type="ephemeral", text=f"Working on `{name}`…")

    def run_command(command: dict[str, Any], respond: Any) -> None:
        name, rest = parse(command.get("text", ""))
        if (
            access.refusal(command) is not None
            or name not in SUBCOMMANDS
            or name == "help"
            or (name == "analyze" and not rest)
        ):
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
        incidents = ctx.runtime.store.incidents.list_open()
        lines = [
            f"• *{i.service}*: {i.alarm_name} since {i.opened_at:%H:%M} UTC" for i in incidents[:30]
        ]
        return {
            "response_type": "ephemeral",
            "text": "*Open incidents*\n" + ("\n".join(lines) or "None."),
        }
    if name == "stats":  # `stats [7d]`: the same figures as `llm-incident stats`
        try:
            period = parse_since(rest or "7d")
        except ValueError as exc:
            return {"response_type": "ephemeral", "text": f"{exc}. Usage: `stats [7d]`"}
        found = compute_stats(ctx.runtime.store, datetime.now(UTC) - period)
        return {"response_type": "ephemeral", "text": render(found)}
    if name == "report":
        return report_answer(ctx, rest, command.get("channel_id", ""))
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


def report_answer(ctx: BotContext, rest: str, channel: str) -> dict[str, Any]:
    """`report [id | thread link]`: the incident's report, posted as a file in its thread.
    Slack does not say which thread a slash command was typed in, so without an argument
    it is the latest incident of this channel."""
    store = ctx.runtime.store
    incident = None
    if rest.strip().lstrip("#").isdigit():
        incident = store.incidents.get(int(rest.strip().lstrip("#")))
    elif rest.strip() and (thread := thread_of_link(rest)):
        incident = store.incidents.by_thread(*thread)
    elif not rest.strip():
        incident = latest_in_channel(store, channel)
    if incident is None or not (incident.channel and incident.root_ts):
        return {
            "response_type": "ephemeral",
            "text": "No incident thread found. Usage: `/llm-incident report [incident id | "
            "thread link]`, or mention me with `report` inside the thread.",
        }
    report = make_report(store, incident.id, client=ctx.poster.client, aws=ctx.runtime.aws)
    assert report is not None  # noqa: S101 - the incident was just read
    post_report(ctx.poster, incident.channel, incident.root_ts, report)
    link = ctx.permalink(incident.channel, incident.root_ts)
    return {
        "response_type": "ephemeral",
        "text": f"The report of incident #{incident.id} is posted in its thread: {link}",
    }
