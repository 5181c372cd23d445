"""A fake Amazon Bedrock control plane and X-Ray service graph, for `discover`.

The emulator answers 500 for Bedrock's ListGuardrails, ListInferenceProfiles and
ListProvisionedModelThroughputs and returns an empty X-Ray service graph, so without this
the code that reads them would go untested. Speaks what boto3 sends: Bedrock's REST-JSON
(`GET /guardrails`, `GET /inference-profiles`, `GET /provisioned-model-throughputs`,
`GET /logging/modelinvocations`, `nextToken` paging, two items a page) and X-Ray's
(`POST /ServiceGraph`, `NextToken` paging). Reached through `AWS_ENDPOINT_URL_BEDROCK`
and `AWS_ENDPOINT_URL_XRAY` while `AWS_ENDPOINT_URL` points at the emulator for the rest.
Records each request (method path and body) in the caller's `calls` list; any other
request is answered 404 `UnknownOperationException`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlparse

from bot.sim.fakes.http import Handler

PAGE = 2


@dataclass
class BedrockEstate:
    """What the fake account has."""

    guardrails: list[dict[str, Any]] = field(default_factory=list)
    inference_profiles: list[dict[str, Any]] = field(default_factory=list)
    provisioned: list[dict[str, Any]] = field(default_factory=list)
    invocation_log_group: str | None = None
    graph: list[dict[str, Any]] = field(default_factory=list)  # X-Ray `Services`


def _page(items: list[dict[str, Any]], token: str | None, key: str, next_key: str) -> bytes:
    start = int(token or 0)
    page: dict[str, Any] = {key: items[start : start + PAGE]}
    if start + PAGE < len(items):
        page[next_key] = str(start + PAGE)
    return json.dumps(page).encode()


def fake_bedrock(estate: BedrockEstate, calls: list[str]) -> Handler:
    def handle(path: str, headers: dict[str, str], body: bytes):
        url = urlparse(path)
        query = {k: v[0] for k, v in parse_qs(url.query).items()}
        calls.append(url.path)
        json_type = {"Content-Type": "application/json"}
        if url.path == "/guardrails":
            return (
                200,
                json_type,
                _page(estate.guardrails, query.get("nextToken"), "guardrails", "nextToken"),
            )
        if url.path == "/inference-profiles":
            listed = _page(
                estate.inference_profiles,
                query.get("nextToken"),
                "inferenceProfileSummaries",
                "nextToken",
            )
            return 200, json_type, listed
        if url.path == "/provisioned-model-throughputs":
            listed = _page(
                estate.provisioned, query.get("nextToken"), "provisionedModelSummaries", "nextToken"
            )
            return 200, json_type, listed
        if url.path == "/logging/modelinvocations":
            config: dict[str, Any] = {}
            if estate.invocation_log_group:
                config = {"cloudWatchConfig": {"logGroupName": estate.invocation_log_group}}
            return 200, json_type, json.dumps({"loggingConfig": config}).encode()
        if url.path == "/ServiceGraph":
            token = json.loads(body or b"{}").get("NextToken")
            return 200, json_type, _page(estate.graph, token, "Services", "NextToken")
        return 404, {"x-amzn-ErrorType": "UnknownOperationException"}, b"{}"

    return handle
