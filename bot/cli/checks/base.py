"""What one check says: `ok` or `FAIL`, and what was found or what to fix."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Check:
    """One check's verdict; `detail` says what was found, or on a failure what to fix."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok' if self.ok else 'FAIL':4}  {self.name}: {self.detail}"


def secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
