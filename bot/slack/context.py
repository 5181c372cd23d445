"""What the Slack listeners share: the runtime, the incident flow and the poster."""

from __future__ import annotations

from dataclasses import dataclass

from bot.incidents.flow import Incidents, Runtime
from bot.slack.threads import Poster


@dataclass
class BotContext:
    runtime: Runtime
    incidents: Incidents
    poster: Poster

    def permalink(self, channel: str, ts: str) -> str:
        try:
            return self.poster.client.chat_getPermalink(channel=channel, message_ts=ts)["permalink"]
        except Exception:
            return f"(thread {ts} in {channel})"
