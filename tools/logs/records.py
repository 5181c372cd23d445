"""One log line in the forms the tool needs: what to cluster on, what names the failure.

A CloudWatch Logs line is text (`[ERROR]\\t<time>\\t<request id>\\t...`, Node's
`<time>\\t<request id>\\tERROR\\t...`, START/END/REPORT) or a JSON record: the Lambda JSON
log format (`{"time":...,"type":"platform.report","record":{...}}`, application records
with `level`, `message`, `requestId`, `errorType`, `errorMessage`, `stackTrace`),
Powertools (`error: {name, message, stack}` in Node, `exception_name` and `exception` in
Python) or a Bedrock model invocation log record. Some exports start with a byte-order
mark.

A whole JSON record, stack trace included, can run to kilobytes; cutting it at a fixed
length before reading it drops exactly what says what broke (the exception's name and
message sit after the envelope). So a JSON record is read first and reduced to its
level, message and error fields (`cluster_form`); a text line is bounded after its
start, which is where a line says what it is.
"""

from __future__ import annotations

import json
import re
from typing import Any

from tools.vocabulary import EXCEPTION_NAME, LAMBDA_RUNTIME_SIGNS, markers

BOM = "\ufeff"
MAX_TEXT = 1000  # a text line's part clustering and failure extraction read
MAX_KEPT = 4000  # what a sample line keeps
_LEVEL = re.compile(r"\b(CRITICAL|FATAL|ERROR|WARN(?:ING)?|INFO|DEBUG|TRACE)\b")
_LEVEL_WORDS = {"WARNING": "WARN", "FATAL": "ERROR", "CRITICAL": "ERROR", "TRACE": "DEBUG"}
_MESSAGE_KEYS = ("message", "msg", "errorMessage", "error_message")
_ERROR_NAME_KEYS = ("errorType", "exception_name", "error_type", "exceptionType")
_BOILERPLATE_KEYS = {
    "ts",
    "time",
    "timestamp",
    "@timestamp",
    "request_id",
    "requestId",
    "function_request_id",
    "accountId",
    "region",
    "schemaType",
    "schemaVersion",
    "trace_id",
    "xray_trace_id",
    "cold_start",
    "function_arn",
    "function_memory_size",
    "function_name",
    "sampling_rate",
    "stackTrace",
    "stack",
    "location",
}
_NOISE = re.compile(
    r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:?\d{2})?\s?|"
    r"(?:RequestId:\s*)?[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-"
    r"[0-9a-fA-F]{12}\s?"
)


def clean(message: str) -> str:
    """The line without a byte-order mark and surrounding whitespace."""
    return message.lstrip(BOM).strip()


def parse_record(message: str) -> dict[str, Any] | None:
    """The JSON object a line holds, or None. A line may carry text before its record
    (`LAMBDA_WARNING: Unhandled exception...\\r{...}`): the record is read from its
    first `{`."""
    text = clean(message)
    start = text.find("{")
    if start < 0 or start > 200 or not text.endswith("}"):
        return None
    try:
        record = json.loads(text[start:])
    except ValueError:
        return None
    return record if isinstance(record, dict) else None


def _text(value: Any, limit: int = 300) -> str:
    if value is None:
        return ""
    text = value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))
    return text[:limit]


def _last_line(traceback: str) -> str:
    """The exception line of a Python traceback: its last non-empty line."""
    lines = [line.strip() for line in traceback.strip().splitlines() if line.strip()]
    return lines[-1][:300] if lines else ""


def record_fields(record: dict[str, Any]) -> dict[str, str]:
    """Level, message, error name and message, platform type and status of a JSON record,
    whichever shape it is in."""
    fields: dict[str, str] = {}
    level = record.get("level") or record.get("log_level") or record.get("levelname")
    body = record.get("record") if isinstance(record.get("record"), dict) else None
    kind = record.get("type")
    if isinstance(kind, str) and kind.startswith("platform.") and body is not None:
        fields["type"] = kind
        status = body.get("status")
        if status:
            fields["status"] = str(status)
        if body.get("errorType"):
            fields["error"] = str(body["errorType"])
        level = level or ("ERROR" if status and status != "success" else "INFO")
    message = next((record[k] for k in _MESSAGE_KEYS if record.get(k) is not None), None)
    if isinstance(message, dict):  # Python runtime errors: `message: {errorType, errorMessage}`
        inner = message
        message = inner.get("errorMessage") or inner.get("message")
        fields.setdefault("error", _text(inner.get("errorType")))
    if message is not None:
        fields["message"] = _text(message)
    for key in _ERROR_NAME_KEYS:
        if record.get(key):
            fields["error"] = _text(record[key], 120)
            break
    if record.get("errorMessage") and fields.get("message") != _text(record["errorMessage"]):
        fields["error_message"] = _text(record["errorMessage"])
    error = record.get("error")
    if isinstance(error, dict):  # Powertools for TypeScript: `error: {name, message, stack}`
        fields["error"] = _text(error.get("name") or error.get("code"), 120) or fields.get(
            "error", ""
        )
        fields["error_message"] = _text(error.get("message"))
    elif isinstance(error, str) and error:
        fields.setdefault("error", _text(error, 120))
    exception = record.get("exception")
    if isinstance(exception, str) and exception:  # Powertools for Python: the traceback
        fields["error_message"] = _last_line(exception)
    if record.get("errorCode"):  # a failed model invocation
        fields["error"] = _text(record["errorCode"], 120)
        level = level or "ERROR"
    if level:
        fields["level"] = str(level).upper()
    return {key: value for key, value in fields.items() if value}


def level_of(message: str) -> str:
    """ERROR, WARN, INFO or DEBUG: a JSON record's level, a text line's level word, or
    ERROR for a line naming an exception."""
    record = parse_record(message)
    if record is not None:
        fields = record_fields(record)
        word = fields.get("level", "")
        if not word and fields.get("error"):
            return "ERROR"
        if not word:
            return "INFO"
        return _LEVEL_WORDS.get(word, word if word in ("ERROR", "WARN", "DEBUG") else "INFO")
    head = clean(message)[:200]
    match = _LEVEL.search(head)
    if not match:
        return "ERROR" if EXCEPTION_NAME.search(bounded(message)) else "INFO"
    word = match.group(1).upper()
    return _LEVEL_WORDS.get(word, word)


_FIELD_KEYS = {
    *_MESSAGE_KEYS,
    *_ERROR_NAME_KEYS,
    "level",
    "log_level",
    "levelname",
    "type",
    "record",
    "error",
    "exception",
    "errorCode",
}


def cluster_form(message: str) -> str:
    """What a line is clustered on: a JSON record's level, type, message and error fields,
    then its other fields, short (no envelope, no stack); a text line's start and its
    exception line."""
    record = parse_record(message)
    if record is None:
        return bounded(message)
    fields = record_fields(record)
    order = ("level", "type", "status", "message", "error", "error_message")
    parts = [f"{key}={fields[key]}" for key in order if key in fields]
    parts += [
        f"{key}={_text(value, 80)}"
        for key, value in record.items()
        if key not in _FIELD_KEYS and key not in _BOILERPLATE_KEYS
    ]
    return " ".join(parts)[:MAX_TEXT]


def bounded(message: str) -> str:
    """A text line up to MAX_TEXT characters; a longer one (a traceback in one event)
    keeps its start and its last line, where the exception is named."""
    text = clean(message)
    if len(text) <= MAX_TEXT:
        return text
    return text[: MAX_TEXT - 320] + " ... " + _last_line(text)[:300]


def failure_text(message: str) -> str:
    """The part of a line that names a failure: its cluster form."""
    return cluster_form(message)


def failure_markers(message: str) -> list[str]:
    """Exception class names, well-known failure phrases and Lambda runtime signs a line
    carries (`signal: killed` is Lambda killing the runtime, almost always for memory)."""
    text = failure_text(message)
    found = list(dict.fromkeys(EXCEPTION_NAME.findall(text)))
    lowered = text.lower()
    found += [phrase for phrase in markers(text) if phrase not in found]
    for sign, meaning in LAMBDA_RUNTIME_SIGNS.items():
        if sign.lower() in lowered and meaning not in found:
            found.append(meaning)
    return found


def display(message: str) -> str:
    """A sample line without what differs on every line (times, request ids, envelope keys
    and stacks of JSON records): shorter for a reader, and the part that says what
    happened."""
    record = parse_record(message)
    if record is not None:
        kept = {k: v for k, v in record.items() if k not in _BOILERPLATE_KEYS}
        error = kept.get("error")
        if isinstance(error, dict):
            kept["error"] = {k: v for k, v in error.items() if k in ("name", "message", "code")}
        if isinstance(kept.get("exception"), str):
            kept["exception"] = _last_line(kept["exception"])
        return json.dumps(kept, separators=(",", ":"))
    return _NOISE.sub("", clean(message))


def kept(message: str) -> str:
    """A line as a sample keeps it: whole up to MAX_KEPT characters."""
    text = clean(message)
    return text if len(text) <= MAX_KEPT else text[: MAX_KEPT - 3] + "..."
