"""CloudTrail changes as scenario changes, kept one for one.

Unlike metrics, logs and traces, changes are few and each matters on its own ("what
changed right before it broke?"), so they are kept as they were rather than summarised:
time, source, name, first resource, user and request parameters. Text is redacted
(`bot.engine.redact`), and the tools' flattened parameters are nested back into the maps
a scenario writes.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.engine.redact import redact
from bot.sim.export.metrics import offset
from tools import changes


def _unflatten(flat: dict[str, str]) -> dict[str, Any]:
    """`environment.variables.MODEL: x` -> nested maps (list indexes stay in the key)."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        here = nested
        for part in parts[:-1]:
            nxt = here.setdefault(part, {})
            if not isinstance(nxt, dict):
                break
            here = nxt
        else:
            here[parts[-1]] = _scalar(redact(value))
    return nested


def _scalar(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text) and len(text) < 16:
        return int(text)
    return text


def change_spec(change: changes.Change, t0: datetime) -> dict[str, Any]:
    """One change as a scenario change, placed relative to T0."""
    spec: dict[str, Any] = {
        "at": offset((change.at - t0).total_seconds()),
        "event_source": change.source or "unknown.amazonaws.com",
        "event_name": change.name,
    }
    if change.resources:
        spec["resource"] = redact(change.resources[0])
    if change.user:
        spec["user"] = change.user
    if change.request:
        spec["request"] = _unflatten(change.request)
    return spec
