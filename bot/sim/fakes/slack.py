"""A fake Slack Web API on loopback, and Slack's request signature for the other way.

Speaks the Web API as `slack_sdk`'s `WebClient` calls it (`POST /api/<method>` with a form
or JSON body, or `GET` with a query, answered `{"ok": true, ...}`), the upload URLs
`files_upload_v2` puts file bytes to, the `response_url` a slash command answers through,
and `apps.connections.open` for a Socket Mode client. It records every call in order as
(method, arguments) with its arrival time, and the faults it served that a test queued:
`fail` answers a call with an error before doing anything (a 429 with Retry-After, a 503
that did not apply), `fail_after` applies the call and then answers an error (Slack's
500, 503 or 504 after a post was made). The messages it holds (`messages`, with their
`metadata` and files) answer `conversations.history`, `conversations.replies` and
`conversations.list`, so a client can look for what it posted; a test adds people's
replies and reactions to a thread (`say`, `react`), and `conversations.replies` pages
through a thread `limit` messages at a time, as Slack does. `signed_headers` signs a
request as Slack signs the ones it sends the bot (v0 HMAC-SHA256), so tests and benches
can post to `/slack/events` as Slack does.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

from bot.sim.fakes.http import serve

BOT = {"user": "UBOT", "bot_id": "BBOT", "type": "message"}  # what the bot's posts carry


@dataclass
class FakeSlack:
    url: str = ""
    calls: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    _ts: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    _lock: threading.Lock = field(default_factory=threading.Lock)
    # Faults served before the normal answer, per method: (status, headers), in order.
    faults: dict[str, list[tuple[int, dict[str, str]]]] = field(default_factory=dict)
    failed: list[tuple[str, int]] = field(default_factory=list)
    usergroups: dict[str, list[str]] = field(default_factory=dict)  # id -> member ids
    stamps: list[float] = field(default_factory=list)  # time.monotonic() of each call
    socket_url: str = ""  # what apps.connections.open hands a Socket Mode client
    # Faults served after the call was applied, per method: statuses, in order.
    faults_after: dict[str, list[int]] = field(default_factory=dict)
    messages: list[dict[str, Any]] = field(default_factory=list)  # what the channels hold
    channel_id: str = "C0INCIDENT"  # the id of every channel, whatever its name
    channel_names: set[str] = field(default_factory=set)
    pending_files: dict[str, str] = field(default_factory=dict)  # file id -> name
    # Message timestamps are epoch seconds, as Slack's are; a clock (e.g. one that runs
    # faster) stages a timeline, as an example incident report needs.
    clock: Callable[[], float] | None = None
    _last: float = 0.0

    def fail(self, method: str, status: int, headers: dict[str, str] | None = None) -> None:
        """Answer the next call of `method` with `status` (429 with Retry-After, a 503)."""
        self.faults.setdefault(method, []).append((status, headers or {}))

    def fail_after(self, method: str, status: int) -> None:
        """Apply the next call of `method`, then answer `status` (a 500, 503 or 504)."""
        self.faults_after.setdefault(method, []).append(status)

    def methods(self, name: str) -> list[dict[str, Any]]:
        return [args for method, args in self.calls if method == name]

    def posted(self, thread_ts: str | None = "any") -> list[dict[str, Any]]:
        """The messages the channels hold: all, the roots (None) or one thread's replies."""
        if thread_ts == "any":
            return list(self.messages)
        return [m for m in self.messages if m.get("thread_ts") == thread_ts]

    def say(self, thread_ts: str, user: str, text: str) -> str:
        """A person's reply in a thread, as Slack would show it; returns its ts."""
        with self._lock:
            ts = self._next_ts()
            self.messages.append(
                {
                    "channel": self.channel_id,
                    "ts": ts,
                    "thread_ts": thread_ts,
                    "text": text,
                    "user": user,
                    "type": "message",
                }
            )
        return ts

    def react(self, ts: str, name: str, user: str) -> None:
        """A reaction on a message of any thread."""
        with self._lock:
            message = next((m for m in self.messages if m["ts"] == ts), None)
            if message is None:
                raise KeyError(f"no message {ts}")
            reactions = message.setdefault("reactions", [])
            found = next((r for r in reactions if r["name"] == name), None)
            if found is None:
                reactions.append({"name": name, "users": [user], "count": 1})
            elif user not in found["users"]:
                found["users"].append(user)
                found["count"] += 1

    def _next_ts(self) -> str:
        if self.clock is None:
            return f"{int(time.time())}.{next(self._ts):06d}"
        self._last = max(self.clock(), self._last + 0.000001)
        return f"{self._last:.6f}"

    def uploads(self) -> list[bytes]:
        """The files uploaded, in order."""
        return [args["bytes"] for method, args in self.calls if method.startswith("upload/")]

    def handle(self, path: str, headers: dict[str, str], body: bytes):
        kind = headers.get("Content-Type", "")
        query = {k: v[0] for k, v in parse_qs(urlsplit(path).query).items()}
        if path.startswith("/upload/"):
            args = {"bytes": body}  # the file itself, as files_upload_v2 sends it
        elif "json" in kind:
            args = json.loads(body or b"{}")
        elif "form" in kind:
            args = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        else:
            args = {"raw": len(body)} if body else {}
        args = {**query, **args}
        method = path.split("?")[0].removeprefix("/api/").strip("/")  # or "respond"
        with self._lock:
            if self.faults.get(method):
                status, fault_headers = self.faults[method].pop(0)
                self.failed.append((method, status))
                return status, {"Content-Type": "text/plain", **fault_headers}, b"fault"
            self.calls.append((method, args))
            self.stamps.append(time.monotonic())
            ts = self._next_ts()
            answer = self._apply(method, args, ts)
            if self.faults_after.get(method):
                status = self.faults_after[method].pop(0)
                self.failed.append((method, status))
                return status, {"Content-Type": "text/plain"}, b"upstream fault"
        if answer is not None:
            return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()
        return self._answer(method, args, ts)

    def _apply(self, method: str, args: dict[str, Any], ts: str) -> dict[str, Any] | None:
        """What a call changes in the channels (under the lock), and its answer."""
        if method == "chat.postMessage":
            self.channel_names.add(str(args.get("channel", "")).lstrip("#"))
            metadata = args.get("metadata")
            if isinstance(metadata, str):
                metadata = json.loads(metadata)
            self.messages.append(
                {
                    "channel": self.channel_id,
                    "ts": ts,
                    "thread_ts": args.get("thread_ts"),
                    "text": args.get("text", ""),
                    "metadata": metadata,
                    **BOT,
                }
            )
            return {"ok": True, "channel": self.channel_id, "ts": ts, "message": {}}
        if method == "chat.update":
            edited = next((m for m in self.messages if m["ts"] == args.get("ts")), None)
            if edited is not None:
                edited["text"] = args.get("text") or edited["text"]
            return None
        if method == "files.completeUploadExternal":
            listed = json.loads(args.get("files") or "[]")
            self.messages.append(
                {
                    "channel": self.channel_id,
                    "ts": ts,
                    "thread_ts": args.get("thread_ts"),
                    "text": args.get("initial_comment") or "",
                    **BOT,
                    "files": [
                        {
                            "id": f["id"],
                            "name": self.pending_files.get(f["id"], ""),
                            "title": f.get("title"),
                        }
                        for f in listed
                    ],
                }
            )
            return {"ok": True, "files": [{"id": f["id"], "title": f.get("title")} for f in listed]}
        return None

    def _history(self, args: dict[str, Any]) -> list[dict[str, Any]]:
        oldest = float(args.get("oldest") or 0)
        with self._lock:
            roots = [
                m for m in self.messages if not m.get("thread_ts") and float(m["ts"]) >= oldest
            ]
        return [self._shown(m, args) for m in reversed(roots)]

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        """A thread, root first, `limit` messages a page (`cursor` is where a page starts)."""
        ts = args.get("ts")
        with self._lock:
            thread = [m for m in self.messages if m["ts"] == ts or m.get("thread_ts") == ts]
        if not thread:
            return {"ok": False, "error": "thread_not_found"}
        start, limit = int(args.get("cursor") or 0), int(args.get("limit") or 100)
        more = start + limit < len(thread)
        return {
            "ok": True,
            "messages": [self._shown(m, args) for m in thread[start : start + limit]],
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    @staticmethod
    def _shown(message: dict[str, Any], args: dict[str, Any]) -> dict[str, Any]:
        shown = {k: v for k, v in message.items() if v is not None and k != "metadata"}
        if str(args.get("include_all_metadata")).lower() in ("1", "true") and message.get(
            "metadata"
        ):
            shown["metadata"] = message["metadata"]
        return shown

    def _answer(self, method: str, args: dict[str, Any], ts: str):
        answer: dict[str, Any] = {"ok": True}
        if method == "chat.update":
            answer |= {"channel": self.channel_id, "ts": args.get("ts") or ts, "message": {}}
        elif method == "conversations.history":
            answer |= {"messages": self._history(args), "has_more": False}
        elif method == "conversations.replies":
            answer = self._replies(args)
        elif method == "conversations.list":
            names = sorted(self.channel_names)
            answer |= {
                "channels": [{"id": self.channel_id, "name": n} for n in names],
                "response_metadata": {"next_cursor": ""},
            }
        elif method == "files.getUploadURLExternal":
            file_id = f"F{ts.rsplit('.', 1)[1]}"
            with self._lock:
                self.pending_files[file_id] = str(args.get("filename", ""))
            answer |= {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        elif method == "chat.getPermalink":
            answer |= {"permalink": f"https://slack.example/archives/{args.get('channel')}/p{ts}"}
        elif method == "respond":
            return 200, {"Content-Type": "text/plain"}, b"ok"
        elif method == "apps.connections.open":
            answer |= {"url": self.socket_url}
        elif method == "usergroups.users.list":
            group = args.get("usergroup", "")
            if group not in self.usergroups:
                answer = {"ok": False, "error": "no_such_subteam"}
            else:
                answer |= {"users": self.usergroups[group]}
        elif method == "auth.test":
            answer |= {"user_id": "UBOT", "bot_id": "BBOT", "team_id": "T1"}
        return 200, {"Content-Type": "application/json"}, json.dumps(answer).encode()


@contextmanager
def fake_slack(clock: Callable[[], float] | None = None) -> Iterator[FakeSlack]:
    slack = FakeSlack(clock=clock)
    with serve(slack.handle) as url:
        slack.url = url
        yield slack


def signed_headers(body: str, secret: str, content_type: str, age: int = 0) -> dict[str, str]:
    """The headers Slack sends with a request: a v0 HMAC-SHA256 over timestamp and body."""
    stamp = str(int(time.time()) - age)
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest}",
    }
