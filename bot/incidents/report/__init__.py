"""Incident reports: the store's record of an incident and its Slack thread, as the
Markdown a post-incident review starts from (`/llm-incident report`, `llm-incident report`).

`gather` reads the store and validates the thread's messages; `markdown` writes the
report. Nothing here talks to Slack: `bot.slack.report` fetches the thread and posts the
file, the command line prints it.
"""

from __future__ import annotations

from bot.incidents.report.gather import (
    IncidentRecord,
    ThreadMessage,
    incident_record,
    latest_in_channel,
    thread_messages,
)
from bot.incidents.report.markdown import Chart, render_report

__all__ = [
    "Chart",
    "IncidentRecord",
    "ThreadMessage",
    "incident_record",
    "latest_in_channel",
    "render_report",
    "thread_messages",
]
