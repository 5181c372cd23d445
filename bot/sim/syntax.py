"""The scenario format's small languages: offsets, durations, rates and log templates.

Authors write times and rates as people say them (`-45m`, `2400ms`, `120/m`) and log
lines as templates with placeholders (`{uuid}`, `{int:1-9}`, `{choice:a|b}`); each is
parsed here once, strictly, with a message that says what was expected, so a typo is a
validation error at load and never a surprise at replay. The pydantic types
(`Offset`, `Duration`, `Rate`, `Share`, `TextMap`) let the models in `bot.sim.specs`
declare a field in the format's own terms.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}
_OFFSET = re.compile(r"^([+-]?)((?:\d+(?:\.\d+)?(?:ms|s|m|h|d))+)$")
_OFFSET_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)")
_RATE = re.compile(r"^(\d+(?:\.\d+)?)\s*/\s*(s|sec|m|min|h|hr|hour)$")
_RATE_UNITS = {"s": 1, "sec": 1, "m": 60, "min": 60, "h": 3600, "hr": 3600, "hour": 3600}


def parse_offset(value: Any) -> timedelta:
    """`-45m`, `+5m`, `-90s`, `0`, `-2d`, `-1h30m` -> a signed timedelta from T0."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError("an offset is a time such as -45m or +5m, not a boolean")
    if isinstance(value, int | float):
        if value == 0:
            return timedelta(0)
        raise ValueError(f"offset {value!r} needs a unit: s, m, h or d (e.g. -45m)")
    if not isinstance(value, str):
        raise ValueError(f"an offset is a time such as -45m or +5m, not {type(value).__name__}")
    text = value.strip().replace(" ", "")
    if text in {"0", "+0", "-0", "T0", "t0"}:
        return timedelta(0)
    match = _OFFSET.match(text)
    if not match:
        raise ValueError(f"offset {value!r} is not a time such as -45m, +5m, -90s or -2d")
    seconds = sum(
        float(number) * _UNITS[unit] for number, unit in _OFFSET_PART.findall(match.group(2))
    )
    return timedelta(seconds=-seconds if match.group(1) == "-" else seconds)


def parse_duration(value: Any) -> float:
    """`2400ms`, `2.4s`, `1m` -> seconds (a positive float)."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ValueError(f"a duration is written like 2400ms or 2.4s, not {value!r}")
    if isinstance(value, int | float):
        raise ValueError(f"duration {value!r} needs a unit: ms or s (e.g. 2400ms)")
    text = value.strip().replace(" ", "")
    match = _OFFSET.match(text)
    if not match or match.group(1) == "-":
        raise ValueError(f"duration {value!r} is not a duration such as 2400ms or 2.4s")
    return parse_offset(text).total_seconds()


def parse_rate(value: Any) -> float:
    """`120/m`, `0.5/m`, `3/s`, `10/h` -> events per second."""
    if not isinstance(value, str):
        raise ValueError(f"a rate is written like 120/m, 0.5/m or 3/s, not {value!r}")
    match = _RATE.match(value.strip())
    if not match:
        raise ValueError(f"rate {value!r} is not a rate such as 120/m, 0.5/m or 3/s")
    return float(match.group(1)) / _RATE_UNITS[match.group(2)]


Offset = Annotated[timedelta, BeforeValidator(parse_offset)]
Duration = Annotated[float, BeforeValidator(parse_duration)]
Rate = Annotated[float, BeforeValidator(parse_rate)]
Share = Annotated[float, Field(ge=0.0, le=1.0)]


def _text_map(value: Any) -> Any:
    """Dimension maps: YAML turns `GuardrailVersion: 4` into an int; AWS wants text."""
    if isinstance(value, dict):
        return {str(k): str(v) for k, v in value.items()}
    return value


TextMap = Annotated[dict[str, str], BeforeValidator(_text_map)]


class TemplatePart(BaseModel):
    """A piece of a log template: literal text, or a placeholder with its argument."""

    model_config = ConfigDict(frozen=True)

    kind: str  # "text", "uuid", "int", "float", "hex", "choice", "ip", "ts"
    text: str = ""
    low: float = 0
    high: float = 0
    options: tuple[str, ...] = ()


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([a-z]+)(?::([^{}]*))?\}|[{}]")
_RANGE = re.compile(r"^\s*(-?\d+(?:\.\d+)?)\s*-\s*(-?\d+(?:\.\d+)?)\s*$")


def compile_template(template: str) -> tuple[TemplatePart, ...]:
    """Split a template into literal text and placeholders, rejecting unknown ones."""
    parts: list[TemplatePart] = []
    buffer: list[str] = []
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        buffer.append(template[position : match.start()])
        position = match.end()
        token = match.group(0)
        if token in ("{{", "}}"):
            buffer.append(token[0])
            continue
        name, arg = match.group(1), match.group(2)
        if name is None:
            raise ValueError(
                f"unbalanced {token!r} at character {match.start()}: write literal braces as "
                "{{ and }}"
            )
        if buffer:
            parts.append(TemplatePart(kind="text", text="".join(buffer)))
            buffer = []
        parts.append(_placeholder(name, arg))
    buffer.append(template[position:])
    if any(buffer):
        parts.append(TemplatePart(kind="text", text="".join(buffer)))
    return tuple(parts)


def _placeholder(name: str, arg: str | None) -> TemplatePart:
    if name in ("uuid", "ip", "ts"):
        if arg is not None:
            raise ValueError(f"placeholder {{{name}}} takes no argument")
        return TemplatePart(kind=name)
    if name in ("int", "float"):
        match = _RANGE.match(arg or "")
        if not match:
            raise ValueError(f"placeholder {{{name}:A-B}} needs a range, got {arg!r}")
        low, high = float(match.group(1)), float(match.group(2))
        if low > high:
            raise ValueError(f"placeholder {{{name}:{arg}}} has its range backwards")
        return TemplatePart(kind=name, low=low, high=high)
    if name == "hex":
        if not (arg or "").strip().isdigit() or not 0 < int(arg or 0) <= 64:
            raise ValueError(f"placeholder {{hex:N}} needs N from 1 to 64, got {arg!r}")
        return TemplatePart(kind="hex", low=int(arg or 0))
    if name == "choice":
        if arg is None or arg == "":
            raise ValueError("placeholder {choice:a|b} needs at least one option")
        return TemplatePart(kind="choice", options=tuple(arg.split("|")))
    raise ValueError(f"unknown placeholder {{{name}}}: use uuid, int, float, hex, choice, ip or ts")
