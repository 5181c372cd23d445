"""What the incident flow says, and where: the `IncidentThread` it talks through.

The flow decides *when* something is told (a root message once per incident, progress
while evidence arrives, one analysis per job); the thread decides *how* it looks. The
Slack thread (`bot.slack.threads.SlackThread`) is the implementation the bot runs with;
keeping Block Kit out of the flow lets `bot.slack` depend on the flow, never the reverse.
"""

from __future__ import annotations

from typing import Protocol

from bot.engine.evidence import EvidenceBundle, Progress
from bot.engine.runbooks import Runbook
from bot.models import Alarm, Investigation


class IncidentThread(Protocol):
    """One conversation per incident, in the channel of its service."""

    def open(
        self,
        channel: str,
        alarm: Alarm,
        service: str,
        *,
        resolved: bool,
        also_firing: list[str],
        key: str | None = None,
    ) -> tuple[str, str]:
        """Post the root message; returns (channel id, root ts). A `key` makes it posted
        once however often this is called (a job retried after a crash)."""
        ...

    def refresh_root(
        self,
        channel: str,
        ts: str,
        alarm: Alarm,
        service: str,
        *,
        resolved: bool,
        also_firing: list[str],
    ) -> None:
        """Edit the root message in place (another alarm joined; the incident resolved)."""
        ...

    def resolved(self, channel: str, thread_ts: str, alarm: Alarm) -> None:
        """Tell the thread an alarm went back to OK."""
        ...

    def refired(self, channel: str, thread_ts: str, alarm: Alarm, flaps: int) -> None:
        """Tell the thread an alarm fired again (a flap)."""
        ...

    def failed(self, channel: str, thread_ts: str, attempts: int, reason: str) -> None:
        """Tell the thread the investigation was given up."""
        ...

    def start_progress(
        self,
        channel: str,
        thread_ts: str,
        sources: list[str],
        ts: str | None,
        key: str | None = None,
    ) -> tuple[str, Progress]:
        """Post the progress message (or, for a resumed job, reset the one at `ts`);
        returns its ts and the callback the evidence sources report to. A `key` makes it
        posted once."""
        ...

    def attach(self, channel: str, thread_ts: str, alarm: Alarm, bundle: EvidenceBundle) -> None:
        """Attach the alarm metric's chart and the full evidence to the thread."""
        ...

    def post_analysis(
        self,
        channel: str,
        thread_ts: str,
        investigation: Investigation,
        alarm: Alarm,
        analysis_id: int,
        runbook: Runbook | None,
        log_groups: list[str],
    ) -> str:
        """Post the analysis with its feedback buttons; returns its ts."""
        ...
