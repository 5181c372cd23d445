"""What one check says: `ok` or `FAIL`, and what was found or what to fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    """One check's verdict; `detail` says what was found, or on a failure what to fix. A
    `warning` passes (the bot runs) but says what is risky, as `WARN`."""

    name: str
    ok: bool
    detail: str
    warning: bool = False

    def line(self) -> str:
        mark = "FAIL" if not self.ok else "WARN" if self.warning else "ok"
        return f"{mark:4}  {self.name}: {self.detail}"


def secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
