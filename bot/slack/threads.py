"""Incident threads in Slack: the root message, live progress, the chart, the analysis.

`SlackThread` is the `bot.incidents.thread.IncidentThread` the bot runs with. All
outgoing messages pass through one `Poster`, which keeps to Slack's pace: at most one
new message per channel per second, and progress edits coalesced so a burst of evidence
sources answering makes one `chat.update`, not five.

Each message of an incident is posted exactly once (`bot.slack.delivery`): under a key
kept in the store, and, when Slack's answer is lost (a 5xx after Slack applied the
post, a dropped connection), looked for in the channel before it is sent again. Every
text from outside (alarm names and reasons, log lines, exception texts) is escaped.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)

from bot.engine.evidence import EvidenceBundle
from bot.engine.runbooks import Runbook
from bot.models import Alarm, Investigation
from bot.slack import blocks
from bot.slack.chart import metric_chart
from bot.slack.delivery import MemoryLedger, OncePoster, PostLedger

log = logging.getLogger(__name__)
NEW_MESSAGE_INTERVAL = 1.0
UPDATE_INTERVAL = 0.5
MAX_KEY = 200


def web_client(token: str, base_url: str) -> WebClient:
    """A WebClient that waits out 429s (Retry-After), 5xx and dropped connections instead
    of losing the message."""
    client = WebClient(token=token, base_url=base_url, timeout=10)
    client.retry_handlers += [
        RateLimitErrorRetryHandler(max_retry_count=3),
        ServerErrorRetryHandler(max_retry_count=3),
    ]
    if not any(isinstance(h, ConnectionErrorRetryHandler) for h in client.retry_handlers):
        client.retry_handlers.append(ConnectionErrorRetryHandler(max_retry_count=2))
    return client


def post_key(*parts: object) -> str:
    """A post's key from what identifies it; long ones (alarm names) are hashed."""
    key = ":".join(str(part) for part in parts)
    if len(key) <= MAX_KEY:
        return key
    return f"{parts[0]}:{hashlib.sha256(key.encode()).hexdigest()}"


class Poster:
    """Posts and edits messages at Slack's pace (thread-safe); a post with a `key` is
    made exactly once (see `bot.slack.delivery`)."""

    def __init__(
        self,
        client: WebClient,
        clock: Callable[[], float] = time.monotonic,
        ledger: PostLedger | None = None,
        retry_wait_s: float = 1.0,
    ) -> None:
        self.client = client
        self._clock = clock
        self._last_new: dict[str, float] = {}
        self._lock = threading.Lock()
        self.once = OncePoster(client, ledger or MemoryLedger(), self._pace, retry_wait_s)

    def _pace(self, channel: str) -> None:
        with self._lock:
            wait = self._last_new.get(channel, -1e9) + NEW_MESSAGE_INTERVAL - self._clock()
            self._last_new[channel] = self._clock() + max(wait, 0)
        if wait > 0:
            time.sleep(wait)

    def post(
        self,
        channel: str,
        text: str,
        blocks: list[dict] | None = None,
        thread_ts: str | None = None,
        key: str | None = None,
    ) -> tuple[str, str]:
        """Post a message; returns (channel id, ts). With a `key`, the message is posted
        exactly once, however often this is called and whatever Slack answers."""
        if key is not None:
            return self.once.post(key, channel, text, blocks, thread_ts)
        self._pace(channel)
        response = self.client.chat_postMessage(
            channel=channel, text=text, blocks=blocks, thread_ts=thread_ts, unfurl_links=False
        )
        return response["channel"], response["ts"]

    def update(self, channel: str, ts: str, text: str, blocks: list[dict] | None = None) -> None:
        self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)

    def upload(self, channel: str, thread_ts: str, files: list[dict[str, Any]]) -> None:
        """Several files as one message (`filename`, `content`, `title` each), uploaded once."""
        self.once.upload(channel, thread_ts, files)


class Progress:
    """The progress message of one investigation, edited in place as sources answer."""

    def __init__(self, poster: Poster, channel: str, ts: str, sources: list[str]) -> None:
        self.poster, self.channel, self.ts = poster, channel, ts
        self.statuses = dict.fromkeys(sources, "waiting")
        self._last = 0.0
        self._lock = threading.Lock()

    def __call__(self, source: str, status: str) -> None:
        with self._lock:
            self.statuses[source] = status
            finished = all(s in ("done", "missing") for s in self.statuses.values())
            now = time.monotonic()
            if not finished and now - self._last < UPDATE_INTERVAL:
                return  # coalesced: the next answer (or the final one) carries this one
            self._last = now
            text, body = blocks.progress_message(self.statuses)
        try:
            self.poster.update(self.channel, self.ts, text, body)
        except Exception as exc:  # progress is cosmetic; the analysis still posts
            log.warning("progress update failed: %s", exc)


class SlackThread:
    """An incident's thread in Slack, told through one `Poster`."""

    def __init__(self, poster: Poster) -> None:
        self.poster = poster

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
        return self.poster.post(
            channel,
            _headline(alarm, resolved),
            blocks.root_message(alarm, service, resolved=resolved, also_firing=also_firing),
            key=key,
        )

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
        self.poster.update(
            channel,
            ts,
            _headline(alarm, resolved),
            blocks.root_message(alarm, service, resolved=resolved, also_firing=also_firing),
        )

    def resolved(self, channel: str, thread_ts: str, alarm: Alarm) -> None:
        key = post_key("resolved", thread_ts, alarm.name, alarm.changed_at.isoformat())
        self.poster.post(channel, blocks.resolved_message(alarm), thread_ts=thread_ts, key=key)

    def refired(self, channel: str, thread_ts: str, alarm: Alarm, flaps: int) -> None:
        name, reason = blocks.mrkdwn_escape(alarm.name), blocks.mrkdwn_escape(alarm.reason[:200])
        text = f"🔁 {name} fired again (flap {flaps}): {reason}"
        key = post_key("refired", thread_ts, flaps, alarm.name, alarm.changed_at.isoformat())
        self.poster.post(channel, text, thread_ts=thread_ts, key=key)

    def failed(self, channel: str, thread_ts: str, attempts: int, reason: str) -> None:
        why = blocks.mrkdwn_escape(reason[:300])
        text = f"⚠️ The investigation failed after {attempts} attempts: {why}"
        self.poster.post(
            channel, text, thread_ts=thread_ts, key=post_key("failed", thread_ts, attempts, reason)
        )

    def start_progress(
        self,
        channel: str,
        thread_ts: str,
        sources: list[str],
        ts: str | None,
        key: str | None = None,
    ) -> tuple[str, Progress]:
        text, body = blocks.progress_message(dict.fromkeys(sources, "waiting"))
        if ts is None:
            _, ts = self.poster.post(channel, text, body, thread_ts=thread_ts, key=key)
        else:  # a resumed job: its progress message starts over in place
            self.poster.update(channel, ts, text, body)
        return ts, Progress(self.poster, channel, ts, sources)

    def attach(self, channel: str, thread_ts: str, alarm: Alarm, bundle: EvidenceBundle) -> None:
        """The chart and the full evidence, as one message above the analysis; a failed
        upload costs the attachment, never the analysis."""
        evidence = f"{alarm.name}: evidence gathered by llm-incident\n\n{bundle.render()}\n"
        files: list[dict[str, Any]] = [
            {
                "filename": f"{_slug(alarm.name)}-evidence.txt",
                "content": evidence.encode(),
                "title": "Full evidence",
            }
        ]
        if bundle.alarm_series and bundle.alarm_series.points:
            png = metric_chart(
                alarm,
                bundle.alarm_series.points,
                bundle.window.onset,
                bundle.alarm_series.statistic,
            )
            title = f"{alarm.metric} around the alarm"
            files.insert(
                0, {"filename": f"{_slug(alarm.name)}.png", "content": png, "title": title}
            )
        try:
            self.poster.upload(channel, thread_ts, files)
        except Exception as exc:
            log.warning("uploading the chart and evidence failed: %s", exc)

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
        text, body = blocks.analysis_message(
            investigation, alarm, analysis_id, runbook=runbook, log_groups=log_groups
        )
        key = post_key("analysis", analysis_id)
        _, ts = self.poster.post(channel, text, body, thread_ts=thread_ts, key=key)
        return ts


def _headline(alarm: Alarm, resolved: bool) -> str:
    mark = "✅ RESOLVED" if resolved else "🚨 " + alarm.state.value
    return f"{mark}: {blocks.mrkdwn_escape(alarm.name)}"


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:80] or "alarm"
