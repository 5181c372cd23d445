"""A fake Slack Web API on loopback, and Slack's request signature for the other way.

Speaks the Web API as `slack_sdk`'s `WebClient` calls it (`POST /api/<method>` with a form
or JSON body, answered `{"ok": true, ...}`), the upload URLs `files_upload_v2` puts file
bytes to, the `response_url` a slash command answers through, and
`apps.connections.open` for a Socket Mode client. It keeps the threads the bot writes
(messages, edits, uploaded files), to which a test adds people's replies and reactions
(`say`, `react`), and answers `conversations.replies` from them, a page of `limit` at a
time with `response_metadata.next_cursor`, as Slack does. It records every call in order as
(method, arguments) with its arrival time, and the faults it served (a 429 with
Retry-After, a 503) that a test queued with `fail`. `signed_headers` signs a request as
Slack signs the ones it sends the bot (v0 HMAC-SHA256), so tests and benches can post
to `/slack/events` as Slack does.
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
from urllib.parse import parse_qs

from bot.sim.fakes.http import serve


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
    threads: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # root ts -> messages
    # Message timestamps: 1700000000.000001, .000002, ... unless a clock (epoch seconds, as
    # Slack's are) is given, e.g. `time.time` for a report whose timeline reads true.
    clock: Callable[[], float] | None = None
    _last: float = 0.0

    def fail(self, method: str, status: int, headers: dict[str, str] | None = None) -> None:
        """Answer the next call of `method` with `status` (429 with Retry-After, a 503)."""
        self.faults.setdefault(method, []).append((status, headers or {}))

    def methods(self, name: str) -> list[dict[str, Any]]:
        return [args for method, args in self.calls if method == name]

    def _next_ts(self) -> str:
        if self.clock is None:
            return f"1700000000.{next(self._ts):06d}"
        self._last = max(self.clock(), self._last + 0.000001)
        return f"{self._last:.6f}"

    def say(self, thread_ts: str, user: str, text: str) -> str:
        """A person's reply in a thread (as Slack would show it); returns its ts."""
        with self._lock:
            ts = self._next_ts()
            self._thread(thread_ts).append(
                {"type": "message", "ts": ts, "user": user, "text": text, "thread_ts": thread_ts}
            )
        return ts

    def react(self, ts: str, name: str, user: str) -> None:
        """A reaction on a message of any thread."""
        with self._lock:
            message = self._message(ts)
            if message is None:
                raise KeyError(f"no message {ts}")
            reactions = message.setdefault("reactions", [])
            found = next((r for r in reactions if r["name"] == name), None)
            if found is None:
                reactions.append({"name": name, "users": [user], "count": 1})
            elif user not in found["users"]:
                found["users"].append(user)
                found["count"] += 1

    def _thread(self, root: str) -> list[dict[str, Any]]:
        return self.threads.setdefault(root, [])

    def _message(self, ts: str) -> dict[str, Any] | None:
        return next((m for t in self.threads.values() for m in t if m["ts"] == ts), None)

    def _keep(self, method: str, args: dict[str, Any], ts: str) -> None:
        """What the bot wrote, kept in its thread for `conversations.replies`."""
        mine = {"user": "UBOT", "bot_id": "BBOT", "type": "message"}
        if method == "chat.postMessage":
            root = args.get("thread_ts") or ts
            message = {**mine, "ts": ts, "text": args.get("text") or ""}
            if args.get("thread_ts"):
                message["thread_ts"] = root
            self._thread(root).append(message)
        elif method == "chat.update" and (found := self._message(args.get("ts", ""))):
            found["text"] = args.get("text") or found["text"]
        elif method == "files.completeUploadExternal" and args.get("thread_ts"):
            listed = json.loads(args.get("files") or "[]")
            files = [
                {"id": f["id"], "title": f.get("title"), "name": f.get("title")} for f in listed
            ]
            message = {**mine, "ts": ts, "text": args.get("initial_comment") or ""}
            self._thread(args["thread_ts"]).append(
                {**message, "files": files, "thread_ts": args["thread_ts"]}
            )

    def _replies(self, args: dict[str, Any]) -> dict[str, Any]:
        thread = self.threads.get(args.get("ts", ""))
        if thread is None:
            return {"ok": False, "error": "thread_not_found"}
        start, limit = int(args.get("cursor") or 0), int(args.get("limit") or 100)
        page = thread[start : start + limit]
        more = start + limit < len(thread)
        return {
            "ok": True,
            "messages": page,
            "has_more": more,
            "response_metadata": {"next_cursor": str(start + limit) if more else ""},
        }

    def uploads(self) -> list[bytes]:
        """The files uploaded, in order."""
        return [args["bytes"] for method, args in self.calls if method.startswith("upload/")]

    def handle(self, path: str, headers: dict[str, str], body: bytes):
        kind = headers.get("Content-Type", "")
        if path.startswith("/upload/"):
            args = {"bytes": body}  # the file itself, as files_upload_v2 sends it
        elif "json" in kind:
            args = json.loads(body or b"{}")
        elif "form" in kind:
            args = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        else:
            args = {"raw": len(body)}
        method = path.split("?")[0].removeprefix("/api/").strip("/")  # or "respond"
        with self._lock:
            if self.faults.get(method):
                status, fault_headers = self.faults[method].pop(0)
                self.failed.append((method, status))
                return status, {"Content-Type": "text/plain", **fault_headers}, b"fault"
            self.calls.append((method, args))
            self.stamps.append(time.monotonic())
            ts = self._next_ts()
            self._keep(method, args, ts)
            replies = self._replies(args) if method == "conversations.replies" else None
        answer: dict[str, Any] = {"ok": True}
        if method in ("chat.postMessage", "chat.update"):
            answer |= {"channel": "C0INCIDENT", "ts": args.get("ts") or ts, "message": {}}
        elif method == "files.getUploadURLExternal":
            file_id = f"F{ts.replace('.', '')}"
            answer |= {"upload_url": f"{self.url}/upload/{file_id}", "file_id": file_id}
        elif method == "files.completeUploadExternal":
            listed = json.loads(args.get("files") or "[]")
            answer |= {"files": [{"id": f["id"], "title": f.get("title")} for f in listed]}
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
        elif replies is not None:
            answer = replies
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
