"""Adversarial variants of a scenario: the same incident told in the words and noise of
real systems, to measure whether the diagnosis holds (`bench/robustness.py`) and to fit
the calibration on more than the bundled stories (`bench/calibrate.py`).

Each variant kind changes one thing a real estate differs in, never the cause:

- `wording`: the SDK's other wording of the same error (the botocore form
  `An error occurred (X) when calling the Y operation: ...`, the JS SDK's `X: message`,
  the event-stream form with a lower-case code, the Converse operation for InvokeModel);
- `json_logs`: the service's Lambda log groups on the JSON log format;
- `traps`: phrases that look like causes (`Connection refused`, `war-room`, `step=3
  loop=ok`, a steady AccessDenied from another job) at the same rate before and after
  onset;
- `routine_change`: a tag and a log-retention change on the service's resources at onset;
- `heavy_caller`: one caller sending a large, steady share of the model calls;
- `missing_source`: traces (or, without traces, the invocation log) not there at all.

Variants work on the scenario as loaded YAML (a dict) and never read `expected`, `id`,
`title` or `notes` except to carry them over. Evidence words that a variant removed from
the telemetry are dropped from what is expected of it (`expected_evidence`).
"""

from __future__ import annotations

import copy
import json
import re
from collections.abc import Callable
from typing import Any

KINDS = ("wording", "json_logs", "traps", "routine_change", "heavy_caller", "missing_source")

# `[botocore.errorfactory.]Name: An error occurred (Name) when calling the Op operation[
# (reached max retries: N)]: message`
BOTO = re.compile(
    r"(?:(?:botocore\.errorfactory\.)?[A-Z][A-Za-z]+(?:Exception|Error):\s*)?"
    r"An error occurred \((?P<name>[A-Za-z]+)\) when calling the (?P<op>\w+) operation"
    r"(?: \(reached max retries: \d+\))?: (?P<msg>.+)$"
)
# `Name: message` at the end of a line (the JS SDK's and many loggers' form).
SHORT = re.compile(r"(?<![\w.(])(?P<name>[A-Z][A-Za-z]+Exception): (?P<msg>[^:{}]+)$")
# The same provider messages as other SDKs and API versions word them (written here, in
# the shapes real SDKs print).
MESSAGES = {
    "Too many tokens, please wait before trying again.": (
        "Too many requests, please wait before trying again. You have sent too many "
        "requests.  Wait before trying again."
    ),
    "Too many requests, please wait before trying again.": (
        "Too many tokens per minute, please wait before trying again."
    ),
    "Input is too long for requested model.": (
        "The model returned the following errors: prompt is too long: 231904 tokens > "
        "200000 maximum"
    ),
    "Bedrock is unable to process your request.": (
        "Bedrock is unable to process your request at this time. Try again later."
    ),
}
OPERATIONS = {"InvokeModel": "Converse", "Converse": "InvokeModel"}
TRAPS = (
    "[INFO] {ts} {uuid} posted status to #war-room; zoom bridge open for standup",
    "[INFO] {ts} {uuid} page render: request took too long to render on client, ignored",
    "[WARNING] {ts} {uuid} statsd: Connection refused on 127.0.0.1:8125, metric dropped",
    "[INFO] {ts} {uuid} user_agent=Boto3/1.34.2 md/Botocore#1.34.2 agent step=3 loop=ok",
    "[ERROR] {ts} {uuid} nightly-export: AccessDeniedException: User is not authorized to "
    "perform: s3:PutObject on archive bucket (known, ticket OPS-{int:100-999})",
)


def _lower_first(name: str) -> str:
    return name[0].lower() + name[1:]


def reword(text: str, turn: int) -> str:
    """One error line in another SDK's wording; `turn` picks among the forms so a scenario's
    lines do not all move the same way."""
    if text.lstrip().startswith("{{"):
        return text  # a JSON record: its fields, not a wording
    if found := BOTO.search(text):
        name, op, msg = found["name"], found["op"], found["msg"]
        msg = MESSAGES.get(msg.strip(), msg)
        if turn % 2 == 0:  # the JS SDK v3 error's string form
            new = f"{name}: {msg}"
        else:  # boto3 reading an event stream: lower-case code, streaming operation
            stream = OPERATIONS.get(op, op) + "Stream" if op.startswith(("Invoke", "Conv")) else op
            new = (
                "botocore.exceptions.EventStreamError: An error occurred "
                f"({_lower_first(name)}) when calling the {stream} operation: {msg}"
            )
        return text[: found.start()] + new
    if found := SHORT.search(text):
        name, msg = found["name"], found["msg"]
        msg = MESSAGES.get(msg.strip(), msg)
        new = (
            f"botocore.errorfactory.{name}: An error occurred ({name}) when calling the "
            f"Converse operation (reached max retries: 4): {msg}"
        )
        return text[: found.start()] + new
    return text


def _lambda_groups(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [g for g in data.get("logs") or [] if str(g.get("group", "")).startswith("/aws/lambda/")]


def wording(data: dict[str, Any]) -> dict[str, Any]:
    turn = 0
    for group in data.get("logs") or []:
        for item in [*(group.get("patterns") or []), *(group.get("lines") or [])]:
            key = "template" if "template" in item else "message"
            new = reword(str(item[key]), turn)
            if new != item[key]:
                item[key] = new
                turn += 1
    return data


def json_logs(data: dict[str, Any]) -> dict[str, Any]:
    for group in _lambda_groups(data):
        group["format"] = "json"
    return data


def traps(data: dict[str, Any]) -> dict[str, Any]:
    groups = _lambda_groups(data) or (data.get("logs") or [])
    if not groups:
        function = (data["service"].get("lambda_functions") or [data["service"]["name"]])[0]
        groups = [{"group": f"/aws/lambda/{function}", "patterns": []}]
        data["logs"] = [*(data.get("logs") or []), groups[0]]
        data["service"]["log_groups"] = [*data["service"].get("log_groups", []), groups[0]["group"]]
    patterns = groups[0].setdefault("patterns", [])
    patterns += [{"template": t, "rate": "2/m"} for t in TRAPS]
    return data


def estimated_onset(data: dict[str, Any]) -> str:
    """Where the story turns: the latest `from` offset among segments, patterns and
    phases before T0 (the bundled stories start their symptoms there), else -10m."""
    offsets: list[float] = []

    def minutes(text: Any) -> float | None:
        match = re.fullmatch(r"\s*-(\d+(?:\.\d+)?)m\s*", str(text))
        return float(match.group(1)) if match else None

    def visit(node: Any) -> None:
        if isinstance(node, dict):
            if (m := minutes(node.get("from"))) is not None:
                offsets.append(m)
            for value in node.values():
                visit(value)
        elif isinstance(node, list):
            for value in node:
                visit(value)

    visit({k: data.get(k) for k in ("metrics", "logs", "traces", "invocations")})
    return f"-{max(offsets):g}m" if offsets else "-10m"


def routine_change(data: dict[str, Any]) -> dict[str, Any]:
    service = data["service"]
    function = (service.get("lambda_functions") or [service["name"]])[0]
    group = (service.get("log_groups") or [f"/aws/lambda/{function}"])[0]
    at = estimated_onset(data)
    account = str(data.get("account", "123456789012")).zfill(12)
    who = f"arn:aws:sts::{account}:assumed-role/platform-automation/tag-sync"
    data["changes"] = [
        *(data.get("changes") or []),
        {
            "at": at,
            "event_source": "lambda.amazonaws.com",
            "event_name": "TagResource20170331v2",
            "resource": function,
            "user": who,
            "request": {"resource": function, "tags": {"cost-center": "cc-4410"}},
        },
        {
            "at": at,
            "event_source": "logs.amazonaws.com",
            "event_name": "PutRetentionPolicy",
            "resource": group,
            "user": who,
            "request": {"logGroupName": group, "retentionInDays": 30},
        },
    ]
    return data


def heavy_caller(data: dict[str, Any]) -> dict[str, Any]:
    service = data["service"]
    bedrock = service.setdefault("bedrock", {})
    bedrock.setdefault("invocation_log_group", "/aws/bedrock/modelinvocations")
    model = (bedrock.get("model_ids") or ["anthropic.claude-3-5-haiku-20241022-v1:0"])[0]
    account = str(data.get("account", "123456789012")).zfill(12)
    data["invocations"] = [
        *(data.get("invocations") or []),
        {
            "operation": "Converse",
            "model": model,
            "rate": "40/m",
            "caller": f"arn:aws:sts::{account}:assumed-role/reporting-batch/nightly-summaries",
            "input_tokens": "1500-2500",
            "output_tokens": "200-400",
        },
    ]
    return data


def missing_source(data: dict[str, Any]) -> dict[str, Any]:
    if data.get("traces") or data.get("spans"):
        data["traces"] = []
        data.pop("spans", None)
        data["service"]["xray_service_names"] = []
    elif data.get("invocations"):
        data["invocations"] = []
    else:
        data["alarms_also_firing"] = []  # nothing else to take away: the plain story
    return data


VARIANTS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    "wording": wording,
    "json_logs": json_logs,
    "traps": traps,
    "routine_change": routine_change,
    "heavy_caller": heavy_caller,
    "missing_source": missing_source,
}


def variant(data: dict[str, Any], kind: str) -> dict[str, Any]:
    """A new scenario dict: `data` with one kind of real-world difference applied."""
    return VARIANTS[kind](copy.deepcopy(data))


def expected_evidence(data: dict[str, Any]) -> list[str]:
    """The expected evidence words the variant's telemetry can still show."""
    told = json.dumps({k: v for k, v in data.items() if k not in ("expected", "notes", "title")})
    told = told.lower()
    words = (data.get("expected") or {}).get("evidence") or []
    return [w for w in words if w.lower() in told]
