"""Investigations rendered for a terminal (rich): the readable `investigate` report and
the Slack thread the demo plays."""

from __future__ import annotations

from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text

from bot.engine.evidence import EvidenceBundle
from bot.models import CATEGORY_TITLES, Alarm, Hypothesis, Investigation, Verdict
from tools.base import fmt_offset

OTHERS_SHOWN = 3


def alarm_panel(alarm: Alarm, service: str) -> Panel:
    """The thread's root message: alarm, service, state, reason, chart, console link."""
    body = Text()
    body.append(f"{alarm.state.value}", style="bold red" if alarm.rising else "bold")
    body.append(f"  {alarm.name}\n", style="bold")
    body.append(f"service {service} · {alarm.namespace} {alarm.metric} ")
    body.append(f"{alarm.statistic} {alarm.comparison} {alarm.threshold:g}\n")
    body.append(f"{alarm.reason}\n", style="dim")
    body.append(
        f"[Open alarm in CloudWatch] https://{alarm.region}.console.aws.amazon.com/cloudwatch/"
        f"home?region={alarm.region}#alarmsV2:alarm/{alarm.name}",
        style="cyan",
    )
    return Panel(body, title="🚨 llm-incident", title_align="left")


def hypothesis_text(
    hypothesis: Hypothesis, bundle: EvidenceBundle | None, remediation: bool = True
) -> Text:
    text = Text()
    text.append(f"{hypothesis.title}\n", style="bold")
    text.append(
        f"{CATEGORY_TITLES[hypothesis.category]} · confidence {hypothesis.confidence:.0%}"
        + (f" · runbook {hypothesis.runbook}" if hypothesis.runbook else "")
        + "\n",
        style="dim",
    )
    if hypothesis.evidence:
        text.append("Evidence\n", style="bold")
        for line in hypothesis.evidence:
            text.append(f"  • {line}\n")
    if hypothesis.counter_evidence:
        text.append("Against\n", style="bold")
        for line in hypothesis.counter_evidence:
            text.append(f"  • {line}\n")
    if remediation and hypothesis.remediation:
        text.append("What to do\n", style="bold")
        for number, step in enumerate(hypothesis.remediation, 1):
            text.append(f"  {number}. {step}\n")
    return text


def analysis_panel(investigation: Investigation, bundle: EvidenceBundle | None) -> Panel:
    """The analysis message: top hypothesis, evidence, remediation, the others folded."""
    parts: list[Text] = []
    top = investigation.top
    shown = 1
    if top is None or top.confidence == 0:
        parts.append(Text("No hypothesis has supporting evidence yet.", style="bold"))
    elif investigation.verdict is Verdict.UNDETERMINED:
        parts.append(Text("Undetermined: no single cause is clear enough to name.", style="bold"))
        shown = 2
        for candidate in [h for h in investigation.hypotheses[:2] if h.confidence > 0]:
            parts.append(hypothesis_text(candidate, bundle, remediation=False))
        if investigation.separating:
            apart = Text("What would tell them apart\n", style="bold")
            for line in investigation.separating:
                apart.append(f"  • {line}\n")
            parts.append(apart)
    else:
        parts.append(hypothesis_text(top, bundle))
    others = [h for h in investigation.hypotheses[shown:] if h.confidence > 0][:OTHERS_SHOWN]
    if others:
        folded = Text("Other hypotheses\n", style="bold")
        for other in others:
            folded.append(f"  ▸ {other.confidence:.0%} {other.title}\n", style="dim")
        parts.append(folded)
    footer = Text()
    if bundle is not None:
        onset = fmt_offset(bundle.window.minutes_from_t0(bundle.window.onset))
        footer.append(f"onset {onset} ({bundle.onset_basis}) · ", style="dim")
    footer.append(
        f"source: {investigation.source} · evidence {investigation.evidence_tokens} tokens",
        style="dim",
    )
    for missing in investigation.missing:
        footer.append(f"\nmissing {missing}", style="yellow")
    for line in investigation.sampling:
        footer.append(f"\nread {line}", style="dim")
    parts.append(footer)
    parts.append(Text("\n[ 👍 Helpful ]  [ 👎 Not right ]", style="bold"))
    return Panel(Group(*parts), title="🔎 Analysis", title_align="left")


def print_investigation(
    investigation: Investigation, bundle: EvidenceBundle, console: Console | None = None
) -> None:
    console = console or Console()
    console.print(alarm_panel(bundle.alarm, investigation.service))
    console.print(analysis_panel(investigation, bundle))
