"""Which Bedrock resources a piece of configuration names: env vars and IAM policies.

A function's environment (`MODEL_ID=anthropic.claude-…`, `KB_ID=…`, `GUARDRAIL_ID=…`) and
its role's policy (`bedrock:InvokeModel` on `…:foundation-model/…`) say which models,
guardrails and knowledge bases a service uses. Only the identifiers are kept: an
environment value that is not one is never copied anywhere (it may be a secret).

Identifier shapes are those of the Bedrock API models (botocore): a guardrail id is
lower-case letters and digits, a knowledge base id ten upper-case letters or digits, a model
id `provider.name` with an optional geographic prefix for inference profiles.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

PROVIDERS = (
    "ai21",
    "amazon",
    "anthropic",
    "cohere",
    "deepseek",
    "google",
    "luma",
    "meta",
    "minimax",
    "mistral",
    "moonshot",
    "nvidia",
    "openai",
    "qwen",
    "stability",
    "twelvelabs",
    "writer",
)
_GEO = r"(?:us|eu|apac|global|us-gov|jp|au|ca)\."
MODEL_ID = re.compile(rf"^(?:{_GEO})?(?:{'|'.join(PROVIDERS)})\.[a-z0-9][a-z0-9.:_-]{{1,120}}$")
_ARN = re.compile(
    r"arn:aws[a-z-]*:(?P<service>bedrock|dynamodb):[a-z0-9-]*:\d{0,12}:"
    r"(?P<kind>foundation-model|inference-profile|application-inference-profile|"
    r"provisioned-model|guardrail|knowledge-base|table)/(?P<id>[A-Za-z0-9.:_-]+)"
)
GUARDRAIL_ID = re.compile(r"^[a-z0-9]{1,64}$")
KNOWLEDGE_BASE_ID = re.compile(r"^[0-9A-Z]{10}$")
GUARDRAIL_VERSION = re.compile(r"^(?:DRAFT|[1-9][0-9]{0,7})$")
_TOKEN_SPLIT = re.compile(r"[\s,;\"'\[\]{}()=]+")
_KB_NAME = re.compile(r"(?:^|_)(?:KB|KNOWLEDGE_?BASE)(?:_|$)", re.I)
_BEDROCK_ACTIONS = re.compile(
    r"^bedrock:(?:\*|InvokeModel\*?|InvokeModelWithResponseStream|Converse\*?|ConverseStream|"
    r"ApplyGuardrail|Retrieve\*?|RetrieveAndGenerate\*?|GetInferenceProfile|"
    r"InvokeAgent|Invoke\*|Get\*|List\*)$",
    re.I,
)
_DYNAMODB_ACTIONS = re.compile(r"^dynamodb:", re.I)


@dataclass(frozen=True)
class Reference:
    """One resource named by configuration: its kind, id, and where it was named."""

    kind: str  # model | guardrail | knowledge_base | provisioned | dynamodb
    value: str
    origin: str  # e.g. `env MODEL_ID`, `policy chat-bedrock`
    version: str | None = None  # guardrails: the version named beside the id


def _from_arn(text: str, origin: str) -> Reference | None:
    match = _ARN.search(text)
    if not match or "*" in text:
        return None
    kind, value = match.group("kind"), match.group("id")
    if kind == "table":
        return Reference("dynamodb", value.split("/", 1)[0], origin)
    if kind in ("foundation-model", "inference-profile", "application-inference-profile"):
        return Reference("model", value, origin)
    if kind == "provisioned-model":
        return Reference("provisioned", value, origin)
    return Reference("knowledge_base" if kind == "knowledge-base" else "guardrail", value, origin)


def from_environment(
    env: Mapping[str, str],
    known_guardrails: Iterable[str] = (),
    known_knowledge_bases: Iterable[str] = (),
) -> list[Reference]:
    """The Bedrock resources an environment names: ARNs and model ids in any value; bare
    guardrail and knowledge-base ids in variables named for them, or ids the account is
    known to have."""
    guardrails, bases = set(known_guardrails), set(known_knowledge_bases)
    found: list[Reference] = []
    versions: list[str] = []
    for name, raw in sorted(env.items()):
        if not isinstance(raw, str):
            continue
        upper = name.upper()
        origin = f"env {name}"
        if "GUARDRAIL" in upper and "VERSION" in upper:
            if GUARDRAIL_VERSION.match(raw.strip()):
                versions.append(raw.strip())
            continue
        for token in filter(None, _TOKEN_SPLIT.split(raw)):
            if (ref := _from_arn(token, origin)) is not None:
                found.append(ref)
            elif MODEL_ID.match(token):
                found.append(Reference("model", token, origin))
            elif token in guardrails or ("GUARDRAIL" in upper and GUARDRAIL_ID.match(token)):
                found.append(Reference("guardrail", token, origin))
            elif token in bases or (_KB_NAME.search(upper) and KNOWLEDGE_BASE_ID.match(token)):
                found.append(Reference("knowledge_base", token, origin))
    ids = {r.value for r in found if r.kind == "guardrail"}
    if len(ids) == 1 and len(set(versions)) == 1:  # one guardrail, one version beside it
        found = [
            Reference(r.kind, r.value, r.origin, versions[0]) if r.kind == "guardrail" else r
            for r in found
        ]
    return _unique(found)


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def from_policy(document: Any, origin: str) -> tuple[list[Reference], list[str]]:
    """The resources an IAM policy document allows Bedrock or DynamoDB calls on, and the
    wildcard grants it makes (`bedrock:InvokeModel` on `*`), which name nothing."""
    found: list[Reference] = []
    wildcards: list[str] = []
    if not isinstance(document, dict):
        return found, wildcards
    for statement in _as_list(document.get("Statement", [])):
        if not isinstance(statement, dict) or statement.get("Effect") != "Allow":
            continue
        actions = [a for a in _as_list(statement.get("Action", [])) if isinstance(a, str)]
        bedrock = [a for a in actions if _BEDROCK_ACTIONS.match(a)]
        dynamodb = [a for a in actions if _DYNAMODB_ACTIONS.match(a)]
        if not bedrock and not dynamodb:
            continue
        for resource in _as_list(statement.get("Resource", [])):
            if not isinstance(resource, str):
                continue
            ref = _from_arn(resource, origin)
            if ref is None:
                if bedrock and ("*" in resource):
                    wildcards.append(f"{origin}: {', '.join(bedrock)} on {resource}")
                continue
            if bool(dynamodb) if ref.kind == "dynamodb" else bool(bedrock):
                found.append(ref)
    return _unique(found), wildcards


def _unique(refs: list[Reference]) -> list[Reference]:
    seen: set[tuple[str, str]] = set()
    kept = []
    for ref in refs:
        if (ref.kind, ref.value) not in seen:
            seen.add((ref.kind, ref.value))
            kept.append(ref)
    return kept
