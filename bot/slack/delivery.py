"""Posting to Slack exactly once, whatever Slack answers.

`chat.postMessage` has no idempotency key, and Slack sometimes applies a post and then
answers 500, 503 or 504 (or the connection drops before the answer arrives). Re-sending
then duplicates the message; not re-sending loses it when the failure was real. So:

- the Web API client used for posts does not retry 5xx or dropped connections itself
  (`single_shot_client`; 429 is still waited out: a rate-limited post was not applied);
- each post carries its key (a `client_msg_id`-style string such as `root:12`) in the
  message's `metadata`, and is recorded in a ledger (`bot.store.posts` in the bot)
  before it is sent;
- when the outcome is unknown, the post is looked for in the channel (its thread's
  replies, or the channel's recent history) by that key before it is sent again; a post
  found is recorded and returned, never repeated;
- a retry of the whole job (after a crash, or after Slack stayed down) finds the key in
  the ledger: a post already made returns its ts, one tried with an unknown outcome is
  looked for first.

Looking needs `channels:history`/`groups:history` and, for a channel given by name,
`channels:read`/`groups:read` (`conversations.list` to find its id). Where Slack refuses
the lookup for good (a missing scope, a channel the bot is not in), the post is sent
again: the message is never lost, and a duplicate is logged as possible.
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from bot.errors import LlmIncidentError

log = logging.getLogger(__name__)
METADATA_TYPE = "llm_incident_post"
ATTEMPTS = 3
HISTORY_PAGES = 5
_CHANNEL_ID = re.compile(r"^[CGD][A-Z0-9]{6,}$")
# Slack's answers that no retry of the lookup will change.
PERMANENT = {
    "missing_scope",
    "not_in_channel",
    "channel_not_found",
    "not_allowed_token_type",
    "thread_not_found",
}


class PostUncertainError(LlmIncidentError):
    """Slack did not say whether a post was applied, and it could not be looked for
    yet: the caller retries later (the ledger remembers the attempt)."""


class LedgerPost(Protocol):
    ts: str | None
    channel_id: str | None
    created_at: datetime


class PostLedger(Protocol):
    """Where posts by key are remembered (`bot.store.posts.PostStore` in the bot)."""

    def find(self, key: str) -> LedgerPost | None: ...

    def begin(self, key: str, channel: str, thread_ts: str | None) -> LedgerPost: ...

    def posted(self, key: str, channel_id: str, ts: str) -> None: ...


@dataclass
class MemoryPost:
    ts: str | None = None
    channel_id: str | None = None
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))


class MemoryLedger:
    """A ledger for one process (a poster built without a store)."""

    def __init__(self) -> None:
        self._posts: dict[str, MemoryPost] = {}
        self._lock = threading.Lock()

    def find(self, key: str) -> MemoryPost | None:
        with self._lock:
            return self._posts.get(key)

    def begin(self, key: str, channel: str, thread_ts: str | None) -> MemoryPost:
        with self._lock:
            return self._posts.setdefault(key, MemoryPost())

    def posted(self, key: str, channel_id: str, ts: str) -> None:
        with self._lock:
            self._posts[key] = MemoryPost(ts=ts, channel_id=channel_id)


def single_shot_client(client: WebClient) -> WebClient:
    """A client like `client` that waits out 429s but retries nothing that may have been
    applied (5xx, dropped connections): the poster decides, after looking."""
    return WebClient(
        token=client.token,
        base_url=client.base_url,
        timeout=client.timeout,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=3)],
    )


def maybe_applied(exc: BaseException) -> bool:
    """Whether a failed call may still have been applied by Slack."""
    if isinstance(exc, SlackApiError):
        status = getattr(exc.response, "status_code", 200) or 200
        return int(status) >= 500
    return isinstance(exc, OSError | TimeoutError)


def _permanent(exc: BaseException) -> bool:
    if not isinstance(exc, SlackApiError):
        return False
    status = int(getattr(exc.response, "status_code", 200) or 200)
    error = exc.response.get("error") if status == 200 else None
    return status < 500 and (error in PERMANENT or status in (401, 403, 404))


class OncePoster:
    """Posts and uploads that appear once in Slack."""

    def __init__(
        self,
        reader: WebClient,
        ledger: PostLedger,
        pace: Callable[[str], None],
        retry_wait_s: float = 1.0,
    ) -> None:
        self.reader = reader  # looks (reads are safe to retry)
        self._client: WebClient | None = None
        self.ledger = ledger
        self._pace = pace
        self._retry_wait_s = retry_wait_s
        self._channel_ids: dict[str, str] = {}
        self._lock = threading.Lock()

    @property
    def client(self) -> WebClient:
        """Sends, retrying nothing that may have been applied (made when first needed)."""
        with self._lock:
            if self._client is None:
                self._client = single_shot_client(self.reader)
            return self._client

    # -- posts ---------------------------------------------------------------------------
    def post(
        self,
        key: str,
        channel: str,
        text: str,
        blocks: list[dict] | None,
        thread_ts: str | None,
    ) -> tuple[str, str]:
        known = self.ledger.find(key)
        if known is not None and known.ts and known.channel_id:
            return known.channel_id, known.ts
        if known is not None:  # tried before with an outcome nobody heard: look first
            found = self._look_for(key, channel, thread_ts, known.created_at)
            if found:
                return found
        for attempt in range(ATTEMPTS):
            record = self.ledger.begin(key, channel, thread_ts)
            self._pace(channel)
            try:
                response = self.client.chat_postMessage(
                    channel=channel,
                    text=text,
                    blocks=blocks,
                    thread_ts=thread_ts,
                    unfurl_links=False,
                    metadata={"event_type": METADATA_TYPE, "event_payload": {"key": key}},
                )
            except Exception as exc:
                if not maybe_applied(exc):
                    raise
                log.warning("post %s: Slack's answer was lost (%s); looking for it", key, exc)
                found = self._look_for(key, channel, thread_ts, record.created_at)
                if found:
                    return found
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(self._retry_wait_s * 2**attempt)
                continue
            channel_id, ts = str(response["channel"]), str(response["ts"])
            self._remember(channel, channel_id)
            self.ledger.posted(key, channel_id, ts)
            return channel_id, ts
        raise AssertionError("unreachable")  # pragma: no cover

    def _look_for(
        self, key: str, channel: str, thread_ts: str | None, since: datetime
    ) -> tuple[str, str] | None:
        """The post with this key, if Slack has it; None when it surely has not. Raises
        PostUncertainError when Slack cannot be asked now."""
        try:
            channel_id = self._channel_id(channel)
            if channel_id is None:
                raise LookupError(f"no channel named {channel}")
            for message in self._messages(channel_id, thread_ts, since):
                payload = (message.get("metadata") or {}).get("event_payload") or {}
                if payload.get("key") == key:
                    log.info(
                        "post %s was applied (found as %s); not sending it again",
                        key,
                        message["ts"],
                    )
                    self.ledger.posted(key, channel_id, str(message["ts"]))
                    return channel_id, str(message["ts"])
            return None
        except (LookupError, SlackApiError) as exc:
            if isinstance(exc, LookupError) or _permanent(exc):
                log.warning(
                    "post %s cannot be looked for (%s): sending it again may duplicate it", key, exc
                )
                return None
            raise PostUncertainError(
                f"post {key}: outcome unknown and Slack cannot be asked: {exc}"
            ) from exc
        except OSError as exc:
            raise PostUncertainError(
                f"post {key}: outcome unknown and Slack cannot be asked: {exc}"
            ) from exc

    def _messages(
        self, channel_id: str, thread_ts: str | None, since: datetime
    ) -> list[dict[str, Any]]:
        """The thread's replies, or the channel's messages newest first back to a little
        before `since` (a few pages at most)."""
        if thread_ts:
            page = self.reader.conversations_replies(
                channel=channel_id, ts=thread_ts, include_all_metadata=True, limit=200
            )
            return list(page.get("messages") or [])
        found: list[dict[str, Any]] = []
        cursor = None
        earliest = since.timestamp() - 120  # a post is never older than its first attempt
        for _ in range(HISTORY_PAGES):
            page = self.reader.conversations_history(
                channel=channel_id, include_all_metadata=True, limit=200, cursor=cursor
            )
            messages = list(page.get("messages") or [])
            found += [m for m in messages if float(m.get("ts", 0)) >= earliest]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            oldest = min((float(m.get("ts", 0)) for m in messages), default=0.0)
            if not cursor or oldest < earliest:
                break
        return found

    def _remember(self, channel: str, channel_id: str) -> None:
        with self._lock:
            self._channel_ids[channel.lstrip("#")] = channel_id

    def _channel_id(self, channel: str) -> str | None:
        """The id of a channel given by id or `#name` (`conversations.list`, cached)."""
        if _CHANNEL_ID.match(channel):
            return channel
        name = channel.lstrip("#")
        with self._lock:
            if name in self._channel_ids:
                return self._channel_ids[name]
        cursor = None
        for _ in range(20):
            page = self.reader.conversations_list(
                types="public_channel,private_channel",
                exclude_archived=True,
                limit=1000,
                cursor=cursor,
            )
            for found in page.get("channels") or []:
                self._remember(str(found.get("name", "")), str(found.get("id", "")))
            with self._lock:
                if name in self._channel_ids:
                    return self._channel_ids[name]
            cursor = (page.get("response_metadata") or {}).get("next_cursor")
            if not cursor:
                break
        return None

    # -- uploads -------------------------------------------------------------------------
    def upload(self, channel: str, thread_ts: str, files: list[dict[str, Any]]) -> None:
        """Files as one message in a thread; a lost answer is checked against the
        thread's files (by name) before the upload is tried again."""
        names = {str(f.get("filename")) for f in files}
        for attempt in range(ATTEMPTS):
            self._pace(channel)
            try:
                self.client.files_upload_v2(
                    channel=channel, thread_ts=thread_ts, file_uploads=files
                )
                return
            except Exception as exc:
                if not maybe_applied(exc):
                    raise
                log.warning(
                    "upload to %s: Slack's answer was lost (%s); looking for it", thread_ts, exc
                )
                if self._has_files(channel, thread_ts, names):
                    return
                if attempt == ATTEMPTS - 1:
                    raise
                time.sleep(self._retry_wait_s * 2**attempt)

    def _has_files(self, channel: str, thread_ts: str, names: set[str]) -> bool:
        channel_id = self._channel_id(channel)
        if channel_id is None:
            return False
        since = datetime.fromtimestamp(float(thread_ts), UTC)
        for message in self._messages(channel_id, thread_ts, since):
            if names & {str(f.get("name")) for f in message.get("files") or []}:
                return True
        return False
