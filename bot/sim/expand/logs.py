"""Log patterns and lines as the events CloudWatch Logs would hold, in one stream.

A pattern's template is filled afresh for every event (new ids, numbers within their
range, the event's own timestamp), at its rate, spread evenly with jitter, so that the
tools' clustering meets variety the way it does in a real group, while a single line is
written once, at its time.
"""

from __future__ import annotations

import random
import uuid
from datetime import datetime

from bot.sim.expand.draws import epoch_ms, seeded, spread, window_span
from bot.sim.expand.telemetry import LogEvent, LogStream
from bot.sim.scenario import Scenario
from bot.sim.specs import LogGroupSpec
from bot.sim.syntax import TemplatePart, compile_template


def render_template(parts: tuple[TemplatePart, ...], at: datetime, rng: random.Random) -> str:
    """Fill a compiled template's placeholders afresh."""
    out: list[str] = []
    for part in parts:
        kind = part.kind
        if kind == "text":
            out.append(part.text)
        elif kind == "uuid":
            out.append(str(uuid.UUID(int=rng.getrandbits(128), version=4)))
        elif kind == "int":
            out.append(str(rng.randint(int(part.low), int(part.high))))
        elif kind == "float":
            out.append(f"{rng.uniform(part.low, part.high):.2f}")
        elif kind == "hex":
            digits = int(part.low)
            out.append(f"{rng.getrandbits(digits * 4):0{digits}x}")
        elif kind == "choice":
            out.append(rng.choice(part.options))
        elif kind == "ip":
            out.append(".".join(str(rng.randint(1, 254)) for _ in range(4)))
        elif kind == "ts":
            out.append(at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z")
    return "".join(out)


def expand_logs(scenario: Scenario, spec: LogGroupSpec, index: int, t0: datetime) -> LogStream:
    """A log group's patterns and lines -> its events, in time order, in one stream."""
    rng = seeded(scenario.seed, "logs", index)
    stream = spec.stream or (f"{t0:%Y/%m/%d}/[$LATEST]{rng.getrandbits(128):032x}")
    events: list[LogEvent] = []
    for number, pattern in enumerate(spec.patterns):
        pattern_rng = seeded(scenario.seed, "logs", index, "pattern", number)
        parts = compile_template(pattern.template)
        start, end = window_span(pattern.start, pattern.end, scenario)
        for at in spread(t0 + start, t0 + end, pattern.rate, pattern_rng):
            events.append(LogEvent(epoch_ms(at), render_template(parts, at, pattern_rng)))
    line_rng = seeded(scenario.seed, "logs", index, "lines")
    for line in spec.lines:
        at = t0 + line.at
        events.append(
            LogEvent(epoch_ms(at), render_template(compile_template(line.message), at, line_rng))
        )
    events.sort(key=lambda event: event.timestamp_ms)
    return LogStream(spec.group, stream, events)
