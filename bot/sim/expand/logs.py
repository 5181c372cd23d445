"""Log patterns and lines as the events CloudWatch Logs would hold, in one stream.

A pattern's template is filled afresh for every event (new ids, numbers within their
range, the event's own timestamp), at its rate, spread evenly with jitter, so that the
tools' clustering meets variety the way it does in a real group, while a single line is
written once, at its time. A group on the JSON log format (1.1, `format: json`) gets the
same lines as Lambda writes them in that format (`json_format`).
"""

from __future__ import annotations

import json
import random
import re
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
    as_json = spec.format == "json"
    for number, pattern in enumerate(spec.patterns):
        pattern_rng = seeded(scenario.seed, "logs", index, "pattern", number)
        parts = compile_template(pattern.template)
        start, end = window_span(pattern.start, pattern.end, scenario)
        for at in spread(t0 + start, t0 + end, pattern.rate, pattern_rng):
            text = render_template(parts, at, pattern_rng)
            events.append(LogEvent(epoch_ms(at), json_format(text, at) if as_json else text))
    line_rng = seeded(scenario.seed, "logs", index, "lines")
    for line in spec.lines:
        at = t0 + line.at
        text = render_template(compile_template(line.message), at, line_rng)
        events.append(LogEvent(epoch_ms(at), json_format(text, at) if as_json else text))
    events.sort(key=lambda event: event.timestamp_ms)
    return LogStream(spec.group, stream, events)


_UUID = r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
_TS = r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z"
_START = re.compile(rf"^START RequestId: ({_UUID}) Version: (\S+)")
_END = re.compile(rf"^END RequestId: ({_UUID})")
_REPORT_ID = re.compile(rf"^REPORT RequestId: ({_UUID})")
_REPORT_FIELD = re.compile(
    r"(Duration|Billed Duration|Memory Size|Max Memory Used|Init Duration):\s*([\d.]+)"
)
_PYTHON = re.compile(rf"^\[(\w+)\]\s+(?:{_TS}\s+)?(?:({_UUID})\s+)?(.*)$", re.S)
_NODE = re.compile(rf"^{_TS}\s+({_UUID})\s+(\w+)\s+(.*)$", re.S)
_TIMEOUT = re.compile(rf"(?:{_TS}\s+)?({_UUID})?\s*Task timed out after ([\d.]+) seconds")
_REPORT_KEYS = {
    "Duration": "durationMs",
    "Billed Duration": "billedDurationMs",
    "Memory Size": "memorySizeMB",
    "Max Memory Used": "maxMemoryUsedMB",
    "Init Duration": "initDurationMs",
}


def json_format(message: str, at: datetime) -> str:
    """A text-format Lambda line as a function on the JSON log format writes it:
    START/END/REPORT as `platform.*` records, application lines as records with `level`,
    `message` and `requestId`, a timeout as a `platform.runtimeDone` with status
    timeout. A line that is already JSON is kept."""
    stamp = at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"
    text = message.strip()
    if text.startswith("{"):
        return message
    record: dict[str, object]
    if match := _START.match(text):
        record = {"requestId": match.group(1), "version": match.group(2)}
        return _platform(stamp, "platform.start", record)
    if match := _END.match(text):
        record = {"requestId": match.group(1), "status": "success"}
        return _platform(stamp, "platform.runtimeDone", record)
    if match := _REPORT_ID.match(text):
        metrics: dict[str, float | int] = {}
        for name, value in _REPORT_FIELD.findall(text):
            number = float(value)
            whole = name.endswith(("Size", "Used")) or name.startswith("Billed")
            metrics[_REPORT_KEYS[name]] = int(number) if whole else number
        record = {"requestId": match.group(1), "metrics": metrics, "status": "success"}
        return _platform(stamp, "platform.report", record)
    if match := _TIMEOUT.search(text):
        record = {"requestId": match.group(1) or "", "status": "timeout"}
        return _platform(stamp, "platform.runtimeDone", record)
    level, request_id, body = "INFO", "", text
    if match := _PYTHON.match(text):
        level, request_id, body = match.group(1), match.group(2) or "", match.group(3)
    elif match := _NODE.match(text):
        request_id, level, body = match.group(1), match.group(2), match.group(3)
    level = {"WARNING": "WARN", "CRITICAL": "FATAL"}.get(level.upper(), level.upper())
    app: dict[str, object] = {"timestamp": stamp, "level": level, "requestId": request_id}
    app["message"] = body
    if "Runtime.ExitError" in body or "Runtime exited with error" in body:
        app["level"], app["errorType"] = "ERROR", "Runtime.ExitError"
    return json.dumps(app, separators=(",", ":"))


def _platform(stamp: str, kind: str, record: dict[str, object]) -> str:
    return json.dumps({"time": stamp, "type": kind, "record": record}, separators=(",", ":"))
