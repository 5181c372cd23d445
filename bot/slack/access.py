"""Who may run `/llm-incident`: when LLM_INCIDENT_ALLOWED_CHANNELS or
LLM_INCIDENT_ALLOWED_USERGROUPS are set, only callers in one of those channels (id or
name) and, for user groups, members of one of them. The command reads evidence from
production accounts, so a workspace can keep it to its on-call rooms and people.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

log = logging.getLogger(__name__)
MEMBERS_TTL_S = 300.0  # group membership is re-read at most every five minutes


class Access:
    def __init__(
        self,
        client: WebClient,
        channels: list[str],
        usergroups: list[str],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.channels = {c.lstrip("#") for c in channels}
        self.usergroups = usergroups
        self._clock = clock
        self._members: dict[str, tuple[float, set[str]]] = {}
        self._lock = threading.Lock()

    def refusal(self, command: dict[str, Any]) -> str | None:
        """Why this caller may not run the command here, or None when they may."""
        if self.channels and not (
            {command.get("channel_id", ""), command.get("channel_name", "")} & self.channels
        ):
            return "`/llm-incident` is not enabled in this channel."
        if self.usergroups and not any(
            command.get("user_id") in self._group(g) for g in self.usergroups
        ):
            return "`/llm-incident` is limited to the on-call user groups."
        return None

    def _group(self, usergroup: str) -> set[str]:
        with self._lock:
            cached = self._members.get(usergroup)
            if cached and self._clock() - cached[0] < MEMBERS_TTL_S:
                return cached[1]
        try:
            users = set(self.client.usergroups_users_list(usergroup=usergroup)["users"])
        except SlackApiError as exc:
            log.warning("cannot read user group %s: %s", usergroup, exc.response.get("error"))
            users = set()  # fail closed: nobody is let in through a group we cannot read
        with self._lock:
            self._members[usergroup] = (self._clock(), users)
        return users
