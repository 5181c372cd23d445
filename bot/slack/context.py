"""What the Slack listeners share: the runtime and the incident flow."""

from __future__ import annotations

from dataclasses import dataclass

from bot.incidents.flow import Incidents, Runtime


@dataclass
class BotContext:
    runtime: Runtime
    incidents: Incidents

    def permalink(self, channel: str, ts: str) -> str:
        try:
            return self.runtime.poster.client.chat_getPermalink(channel=channel, message_ts=ts)[
                "permalink"
            ]
        except Exception:
            return f"(thread {ts} in {channel})"
