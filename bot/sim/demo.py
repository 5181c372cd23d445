"""`llm-incident demo`: a bundled incident played end to end with no credentials.

The scenario is seeded into an in-process AWS emulator, its alarm arrives as an SNS
notification through the real parser, the evidence is gathered by the real tools,
and the Slack thread the bot would post is rendered in the terminal, with the
alarm metric's chart written as a PNG next to it.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from rich.console import Console

from bot.cli.render import alarm_panel, analysis_panel
from bot.config import Settings
from bot.engine.investigate import gather_options, investigate
from bot.engine.runbooks import load_runbooks
from bot.sim.replay import emulated
from bot.slack.chart import metric_chart

_LABELS = {
    "metrics": "metrics",
    "logs": "log patterns",
    "traces": "X-Ray traces",
    "guardrails": "guardrail interventions",
    "changes": "recent changes",
}


def play(
    scenario_path: Path, settings: Settings, output: Path, console: Console | None = None
) -> int:
    console = console or Console()
    books = load_runbooks(settings.runbooks_dir)
    began = time.monotonic()
    with emulated(scenario_path, settings) as run:
        console.print(
            f"[dim]AWS emulator on loopback · scenario {scenario_path.name} seeded in "
            f"{run.seed_seconds:.1f}s · alarm received as an SNS notification[/dim]"
        )
        service = run.service.name if run.service else "unknown"
        channel = (run.service.slack_channel if run.service else None) or "#incidents"
        console.rule(f"Slack · {channel}")
        console.print(alarm_panel(run.alarm, service))

        def progress(source: str, status: str) -> None:
            mark = {"running": "⏳", "done": "✅", "missing": "⚠️"}[status]
            if status != "running":
                console.print(f"  {mark} {_LABELS.get(source, source)} {status}", style="dim")

        console.print("[dim]thread ▸ Investigating: gathering evidence…[/dim]")
        investigation, bundle = investigate(
            run.aws,
            run.alarm,
            run.service,
            books,
            now=run.telemetry.end,
            options=gather_options(settings),
            progress=progress,
        )
        output.mkdir(parents=True, exist_ok=True)
        chart = output / f"{re.sub(r'[^A-Za-z0-9_.-]+', '-', run.alarm.name)}.png"
        points = bundle.alarm_series.points if bundle.alarm_series else []
        chart.write_bytes(
            metric_chart(
                run.alarm,
                points,
                bundle.window.onset,
                bundle.alarm_series.statistic if bundle.alarm_series else None,
            )
        )
        console.print(f"[dim]thread ▸ 📈 {run.alarm.metric} chart attached ({chart})[/dim]")
        console.print(analysis_panel(investigation, bundle))
    console.print(
        f"[dim]played in {time.monotonic() - began:.1f}s · chart written to {chart}[/dim]"
    )
    return 0
