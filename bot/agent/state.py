"""One investigation's loop state: an `Agent` serves many investigations at once, so
everything that belongs to one run (messages, usage, steps, the calls already made) lives
here, not on the agent."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from bot.models import Usage


@dataclass
class Run:
    """One investigation's loop state (an Agent serves many investigations at once)."""

    model: str
    started: float
    forced_ok: bool
    messages: list[dict[str, Any]] = field(default_factory=list)
    usage: Usage = field(default_factory=Usage)
    steps: int = 0
    slowest_s: float = 0.0
    last_input: int = 0
    last_cost: float = 0.0
    seen: dict[str, int] = field(default_factory=dict)

    def remaining(self, deadline_s: float) -> float:
        return deadline_s - (time.monotonic() - self.started)


def total_input(usage: Usage) -> int:
    return usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
