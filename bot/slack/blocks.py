"""Every Slack message and view the bot sends, built with slack_sdk's Block Kit models.

The builders validate per-element limits; this module adds the ones they do not
check: at most 50 blocks per message and texts cut at 3,000 characters with a
pointer to the rest, so a long analysis never fails to post.
"""

from __future__ import annotations

from collections.abc import Sequence

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ButtonElement,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    InputBlock,
    MarkdownTextObject,
    Option,
    PlainTextInputElement,
    PlainTextObject,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.engine.runbooks import Runbook
from bot.models import CATEGORY_TITLES, Alarm, Category, Investigation, PastIncident, Verdict
from bot.slack import console

MAX_BLOCKS = 50
MAX_TEXT = 3000
MAX_HEADER = 150
FEEDBACK_UP = "feedback_up"
FEEDBACK_DOWN = "feedback_down"
DOWNVOTE_MODAL = "feedback_modal"
SOURCE_LABELS = {
    "metrics": "metrics",
    "logs": "log patterns",
    "traces": "X-Ray traces",
    "spans": "OpenTelemetry spans",
    "guardrails": "guardrail interventions",
    "changes": "recent changes",
}
STATUS_MARKS = {"waiting": "⏳", "running": "⏳", "done": "✅", "missing": "⚠️"}


def clip(text: str, limit: int = MAX_TEXT, more: str | None = None) -> str:
    """Text cut to Slack's limit, ending with a pointer to the rest when it was cut."""
    if len(text) <= limit:
        return text
    tail = f"… ({more})" if more else "…"
    return text[: limit - len(tail)] + tail


def mrkdwn_escape(text: str) -> str:
    """Untrusted text (log lines, alarm descriptions) shown literally, never as markup:
    Slack's three control characters escaped, so `<!channel>`, `<@U1>` or a `<url|label>`
    in an alarm or a log line is shown, not acted on."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def watched(alarm: Alarm) -> str:
    """What the alarm watches, escaped: its metric, or its expression or rule."""
    if alarm.rule:
        return mrkdwn_escape(f"composite: {alarm.rule}")
    if alarm.expression:
        return mrkdwn_escape(f"{alarm.kind.value}: {alarm.expression}")
    dims = ", ".join(f"{k}={v}" for k, v in alarm.dimensions.items()) or "none"
    return mrkdwn_escape(f"{alarm.namespace} {alarm.metric} ({dims})")


def limit_blocks(blocks: list[Block], more: str | None = None) -> list[dict]:
    if len(blocks) > MAX_BLOCKS:
        note = ContextBlock(elements=[MarkdownTextObject(text=more or "… more in the thread")])
        blocks = [*blocks[: MAX_BLOCKS - 1], note]
    return [block.to_dict() for block in blocks]


def root_message(
    alarm: Alarm, service: str, resolved: bool = False, also_firing: Sequence[str] = ()
) -> list[dict]:
    """The thread's root: what fired, where, why, and the way into the console; other
    alarms of the service that joined the incident are listed under the reason."""
    mark = "✅ RESOLVED" if resolved else f"🚨 {alarm.state.value}"
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(f"{mark}: {alarm.name}", MAX_HEADER))),
        SectionBlock(
            fields=[
                MarkdownTextObject(text=f"*Service*\n{mrkdwn_escape(service)}"),
                MarkdownTextObject(text=f"*State*\n{alarm.state.value}"),
                MarkdownTextObject(text=clip(f"*Metric*\n{watched(alarm)}", 2000)),
                MarkdownTextObject(
                    text=mrkdwn_escape(
                        f"*Condition*\n{alarm.statistic} {alarm.comparison} {alarm.threshold:g}"
                    )
                ),
            ]
        ),
        SectionBlock(
            text=MarkdownTextObject(text=clip(f"*Reason*\n{mrkdwn_escape(alarm.reason)}"))
        ),
    ]
    if also_firing:
        names = ", ".join(f"`{mrkdwn_escape(n)}`" for n in also_firing)
        blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(f"*Also firing*\n{names}"))))
    blocks += [
        ActionsBlock(
            elements=[
                ButtonElement(
                    text="Open alarm", url=console.console_url(alarm), action_id="open_alarm"
                ),
                ButtonElement(
                    text="Metric graph",
                    url=console.metric_url(alarm, *console.window(alarm, None)),
                    action_id="open_metric",
                ),
                ButtonElement(
                    text="All alarms",
                    url=console.console_url(alarm, "#alarmsV2:?~(state~'ALARM)"),
                    action_id="open_alarms",
                ),
            ]
        ),
    ]
    return limit_blocks(blocks)


def progress_message(statuses: dict[str, str]) -> tuple[str, list[dict]]:
    """The message edited in place while evidence comes in."""
    done = all(s in ("done", "missing") for s in statuses.values())
    title = (
        "Evidence gathered; ranking hypotheses…" if done else "Investigating: gathering evidence…"
    )
    lines = [
        f"{STATUS_MARKS.get(status, '⏳')} {SOURCE_LABELS.get(source, source)}: {status}"
        for source, status in statuses.items()
    ]
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=f"*{title}*")),
        ContextBlock(elements=[MarkdownTextObject(text=clip("\n".join(lines) or "starting"))]),
    ]
    return title, limit_blocks(blocks)


def analysis_message(
    investigation: Investigation,
    alarm: Alarm,
    analysis_id: int,
    tally: tuple[int, int] = (0, 0),
    runbook: Runbook | None = None,
    log_groups: list[str] | None = None,
) -> tuple[str, list[dict]]:
    """The analysis: top hypothesis, its evidence and remediation, links, the rest folded."""
    top = investigation.top
    if top is None or top.confidence == 0:
        text = (
            "Undetermined: no hypothesis has supporting evidence yet; "
            "see the missing sources below."
        )
        blocks: list[Block] = [SectionBlock(text=MarkdownTextObject(text=text))]
    elif investigation.verdict is Verdict.UNDETERMINED:
        text, blocks = undetermined_blocks(investigation)
    else:
        text = f"{CATEGORY_TITLES[top.category]} ({top.confidence:.0%}): {mrkdwn_escape(top.title)}"
        evidence = "\n".join(f"• `{mrkdwn_escape(line)}`" for line in top.evidence)
        steps = "\n".join(
            f"{n}. {mrkdwn_escape(step)}" for n, step in enumerate(top.remediation[:6], 1)
        )
        blocks = [
            HeaderBlock(
                text=PlainTextObject(
                    text=clip(
                        f"🔎 {CATEGORY_TITLES[top.category]} ({top.confidence:.0%})", MAX_HEADER
                    )
                )
            ),
            SectionBlock(text=MarkdownTextObject(text=clip(f"*{mrkdwn_escape(top.title)}*"))),
            SectionBlock(
                text=MarkdownTextObject(
                    text=clip(f"*Evidence*\n{evidence}", more="full evidence in the file above")
                )
            ),
        ]
        if top.counter_evidence:
            against = "\n".join(f"• {mrkdwn_escape(line)}" for line in top.counter_evidence)
            blocks.append(SectionBlock(text=MarkdownTextObject(text=clip(f"*Against*\n{against}"))))
        if steps:
            blocks.append(
                SectionBlock(text=MarkdownTextObject(text=clip(f"*What to do*\n{steps}")))
            )
    blocks += seen_before_blocks(investigation.seen_before)
    start, end = console.window(alarm, investigation.onset)
    links = [
        f"<{console.console_url(alarm)}|alarm>",
        f"<{console.metric_url(alarm, start, end)}|{mrkdwn_escape(alarm.metric)} graph>",
    ]
    if log_groups:
        query = console.logs_insights_url(alarm, log_groups[:10], start, end)
        links.append(f"<{query}|log query ({len(log_groups[:10])} groups)>")
    links.append(f"<{console.traces_url(alarm, start, end)}|traces>")
    if runbook is not None:
        first = runbook.links[0].url if runbook.links else None
        links.append(f"<{first}|runbook {runbook.id}>" if first else f"runbook `{runbook.id}`")
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(" · ".join(links), 2000))]))
    shown = 2 if investigation.verdict is Verdict.UNDETERMINED else 1
    others = [h for h in investigation.hypotheses[shown:] if h.confidence > 0][:3]
    if others:
        folded = "\n".join(f"▸ {h.confidence:.0%} {mrkdwn_escape(h.title)}" for h in others)
        blocks.append(
            ContextBlock(
                elements=[MarkdownTextObject(text=clip(f"*Other hypotheses*\n{folded}", 2000))]
            )
        )
    footer = f"source: {investigation.source}"
    if investigation.source == "triage":
        footer += " (deterministic triage, no LLM)"
    if investigation.fallback_reason:
        footer += f" · {investigation.fallback_reason}"
    footer += f" · evidence {investigation.evidence_tokens} tokens"
    for missing in investigation.missing[:5]:
        footer += f"\n⚠️ missing {mrkdwn_escape(missing)}"
    for line in investigation.sampling[:3]:
        footer += f"\n📏 read {mrkdwn_escape(clip(line, 300))}"
    blocks.append(ContextBlock(elements=[MarkdownTextObject(text=clip(footer, 2000))]))
    up, down = tally
    blocks.append(
        ActionsBlock(
            block_id="feedback",
            elements=[
                ButtonElement(
                    text=f"👍 Helpful ({up})", action_id=FEEDBACK_UP, value=str(analysis_id)
                ),
                ButtonElement(
                    text=f"👎 Not right ({down})", action_id=FEEDBACK_DOWN, value=str(analysis_id)
                ),
            ],
        )
    )
    return text, limit_blocks(blocks)


def undetermined_blocks(investigation: Investigation) -> tuple[str, list[Block]]:
    """The analysis when no hypothesis clears the calibrated threshold: said plainly, the
    two best candidates with their evidence and what argues against each, and the checks
    that would tell them apart. No remediation: there is no cause to act on yet."""
    candidates = [h for h in investigation.hypotheses[:2] if h.confidence > 0]
    named = " or ".join(f"{CATEGORY_TITLES[h.category]} ({h.confidence:.0%})" for h in candidates)
    text = f"Undetermined: {named}"
    blocks: list[Block] = [
        HeaderBlock(text=PlainTextObject(text=clip(f"❔ Undetermined: {named}", MAX_HEADER))),
        SectionBlock(
            text=MarkdownTextObject(
                text="*No single cause is clear enough to name.* The evidence fits these "
                "two best; check what would tell them apart before acting on either."
            )
        ),
    ]
    for h in candidates:
        lines = [f"*{CATEGORY_TITLES[h.category]}* ({h.confidence:.0%})"]
        lines += [f"• `{mrkdwn_escape(line)}`" for line in h.evidence[:3]]
        lines += [f"• against: {mrkdwn_escape(line)}" for line in h.counter_evidence[:2]]
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(
                    text=clip("\n".join(lines), more="full evidence in the file above")
                )
            )
        )
    if investigation.separating:
        checks = "\n".join(f"• {mrkdwn_escape(line)}" for line in investigation.separating)
        blocks.append(
            SectionBlock(
                text=MarkdownTextObject(text=clip(f"*What would tell them apart*\n{checks}"))
            )
        )
    return text, blocks


def seen_before_line(past: PastIncident) -> str:
    """One past incident: when, what the team confirmed, what fixed it, its thread."""
    when = f"{past.opened_at:%Y-%m-%d}"
    said = past.fingerprint.category
    if past.verdict == "confirmed" and past.confirmed:
        outcome = f"confirmed 👍 *{CATEGORY_TITLES[past.confirmed]}*"
    elif past.verdict == "corrected" and past.confirmed:
        bot = f" (the bot said {CATEGORY_TITLES[said]})" if said else ""
        outcome = f"👎 real cause *{CATEGORY_TITLES[past.confirmed]}*{bot}"
    elif past.verdict == "rejected":
        outcome = "👎 the analysis was wrong; no cause named"
    else:
        outcome = "not rated" + (f"; the bot said {CATEGORY_TITLES[said]}" if said else "")
    fixed = mrkdwn_escape(past.resolution[:200]) if past.resolution else "not recorded"
    thread = f"<{past.link}|thread>" if past.link else f"incident #{past.incident_id}"
    return f"• {when} · {outcome} · fixed by: {fixed} · {thread}"


def seen_before_blocks(past: Sequence[PastIncident]) -> list[Block]:
    """ "Seen before": similar past incidents of this service and how they ended."""
    if not past:
        return []
    plural = "s" if len(past) > 1 else ""
    title = f"*Seen before* ({len(past)} similar incident{plural} of this service)"
    lines = "\n".join(seen_before_line(p) for p in past)
    return [SectionBlock(text=MarkdownTextObject(text=clip(f"{title}\n{lines}")))]


def resolved_message(alarm: Alarm) -> str:
    reason = mrkdwn_escape(alarm.reason[:300])
    return f"✅ Resolved: {mrkdwn_escape(alarm.name)} is back to {alarm.state.value} ({reason})"


def downvote_modal(analysis_id: int, channel: str, message_ts: str) -> View:
    options = [Option(value=c.value, text=CATEGORY_TITLES[c]) for c in Category]
    return View(
        type="modal",
        callback_id=DOWNVOTE_MODAL,
        private_metadata=f"{analysis_id}|{channel}|{message_ts}",
        title="What was wrong?",
        submit="Send",
        close="Cancel",
        blocks=[
            InputBlock(
                block_id="wrong",
                label="What was wrong with the analysis?",
                element=PlainTextInputElement(action_id="value", multiline=True),
                optional=True,
            ),
            InputBlock(
                block_id="category",
                label="The real root cause",
                element=StaticSelectElement(action_id="value", options=options),
                optional=True,
            ),
            InputBlock(
                block_id="comment",
                label="Anything else",
                element=PlainTextInputElement(action_id="value"),
                optional=True,
            ),
        ],
    )


HELP = (
    "*`/llm-incident` commands*\n"
    "• `analyze <alarm name | service> [question]`: investigate now, in the incident thread\n"
    "• `status`: open incidents\n"
    "• `stats`: how often the analyses were right, and what they cost\n"
    "• `runbooks [query]`: list or search the runbooks\n"
    "• `report [incident id | thread link]`: the incident report, posted in its thread "
    "(or mention me with `report` in the thread)\n"
    "• `help`: this message"
)


def home_view(open_incidents: list[tuple[str, str, str]], tally: tuple[int, int]) -> View:
    """App Home: open incidents (service, alarm, link) and the last 7 days' votes."""
    lines = [
        f"• *{mrkdwn_escape(s)}*: {mrkdwn_escape(a)} {link}" for s, a, link in open_incidents[:20]
    ]
    up, down = tally
    blocks: list[Block] = [
        HeaderBlock(text="llm-incident"),
        SectionBlock(
            text=MarkdownTextObject(
                text=clip("*Open incidents*\n" + ("\n".join(lines) or "None. 🎉"))
            )
        ),
        DividerBlock(),
        SectionBlock(text=MarkdownTextObject(text=f"*Feedback, last 7 days*\n👍 {up} · 👎 {down}")),
    ]
    return View(type="home", blocks=blocks)
