"""The failure vocabulary: the words and names by which telemetry says what went wrong.

One home for every error signature and failure phrase the project recognises: the log
tool marks lines with them, triage scores categories by them, runbook signals are matched
against the same evidence. Each entry is a family of what Bedrock, the AWS SDKs, Lambda
and common clients write for one kind of failure.

Matching here is by case-insensitive substring, as the rest of the project does today;
word-boundary matching and wording from real SDK texts belong here too, so that changing
how a family is recognised changes it everywhere at once.
"""

from __future__ import annotations

import re

# An exception or fault class name anywhere in a line: `ThrottlingException`, `KeyError`.
EXCEPTION_NAME = re.compile(r"\b([A-Z][A-Za-z0-9]*(?:Exception|Error|Fault))\b")

# Phrases the log tool marks a line with even when no exception name is in it.
KNOWN_FAILURES = (
    "Task timed out",
    "Runtime.OutOfMemory",
    "Runtime.ExitError",
    "Too many tokens",
    "Too many requests",
    "Rate Exceeded",
    "Input is too long",
    "too long",
    "max_tokens",
    "not authorized to perform",
    "Connection reset",
    "timed out",
    "Init Duration",
)

# Our own code broke: the exceptions a bad deployment raises.
CODE_ERRORS = (
    "KeyError",
    "TypeError",
    "AttributeError",
    "ImportError",
    "ModuleNotFoundError",
    "NameError",
    "IndexError",
    "ValueError",
    "JSONDecodeError",
    "UnboundLocalError",
    "SyntaxError",
    "NullPointerException",
    "undefined",
    "Traceback",
    "ValidationError",
    "AssertionError",
    "NotImplementedError",
    "RecursionError",
    "ZeroDivisionError",
)

# Bedrock's own error codes.
PROVIDER_ERRORS = (
    "ThrottlingException",
    "AccessDeniedException",
    "ModelTimeoutException",
    "ServiceUnavailableException",
    "ModelNotReadyException",
    "InternalServerException",
    "ModelErrorException",
    "ValidationException",
    "ServiceQuotaExceededException",
)

# A downstream dependency (database, cache, HTTP API) fails or is slow.
DEPENDENCY_ERRORS = (
    "ConnectTimeout",
    "ReadTimeout",
    "ConnectionError",
    "ConnectionTimeout",
    "Connection reset",
    "Connection refused",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "EndpointConnectionError",
    "circuit breaker",
    "circuit open",
    "502 Bad Gateway",
    "503 Service Unavailable",
    "504 Gateway",
    "TimeoutError",
    "socket timeout",
)
DEPENDENCY_NAMES = ("dynamodb", "redis", "upstream")

# The model provider throttles (and what must not be taken for it: DynamoDB, Lambda).
MODEL_THROTTLES = ("ThrottlingException", "Too many tokens", "Too many requests")
NOT_MODEL_THROTTLES = ("dynamodb", "Rate Exceeded", "TooManyRequestsException")

# The provider side fails or times out.
PROVIDER_FAILURES = (
    "ModelTimeoutException",
    "ServiceUnavailableException",
    "ModelNotReadyException",
    "InternalServerException",
    "ModelErrorException",
    "ModelStreamErrorException",
)

# Permissions or model access are missing.
ACCESS_DENIED = (
    "AccessDeniedException",
    "not authorized to perform",
    "AccessDenied",
    "UnrecognizedClientException",
    "don't have access to the model",
    "ExpiredTokenException",
)

# The provider rejects the request as invalid.
INVALID_INPUT = (
    "ValidationException",
    "too long",
    "Malformed input",
    "roles must alternate",
    "maximum context",
    "context window",
    "too many input tokens",
    "prompt is too long",
)

# The compute runs out.
LAMBDA_RATE_LIMITS = ("Rate Exceeded", "TooManyRequestsException")
OUT_OF_MEMORY = ("Runtime.OutOfMemory", "MemoryError", "out of memory", "OOM")
FUNCTION_TIMEOUTS = ("Task timed out",)
COLD_START = ("Init Duration",)

# Answers got worse: truncated, refused.
DEGRADED_ANSWERS = ("max_tokens", "truncated", "refus", "I'm sorry", "I cannot", "can't help")

# An agent loops.
AGENT_LOOPS = ("iteration", "loop", "tool_use", "step ", "recursion", "agent")

# Someone attacks the guardrail.
PROMPT_ATTACKS = (
    "PROMPT_ATTACK",
    "jailbreak",
    "prompt injection",
    "blocked input",
    "input blocked",
    "ignore previous",
)

# Retrieval found nothing.
EMPTY_RETRIEVAL = (
    "0 documents",
    "no results",
    "empty context",
    "0 results",
    "no documents",
    "numberOfResults=0",
    "retrieved 0",
)

# What a span, metric or line is about.
RETRIEVAL_HINT = re.compile(
    r"retriev|knowledge.?base|opensearch|aoss|vector|embedding|pinecone|kendra|pgvector|"
    r"semantic.?search|search.?index|chroma|weaviate",
    re.I,
)
MODEL_OPERATIONS = frozenset(
    {"invokemodel", "invokemodelwithresponsestream", "converse", "conversestream", "invokeagent"}
)


# ---------------------------------------------------------------------------------------
# Lambda runtime signs (added with issue 14; read by the log tool's failure markers).
#
# What Lambda itself writes when an invocation dies, mapped to the failure it means. The
# log tool marks a line with the meaning, worded so that the families above recognise it:
# "out of memory" is in OUT_OF_MEMORY, "Task timed out" in FUNCTION_TIMEOUTS. Lambda
# kills a runtime that exceeds its memory with SIGKILL, which older runtimes report only
# as `Runtime exited with error: signal: killed` (Runtime.ExitError) and newer ones as
# Runtime.OutOfMemory; on the JSON log format a timeout is a platform.runtimeDone and a
# platform.report record with status timeout.
LAMBDA_RUNTIME_SIGNS = {
    "signal: killed": "out of memory (Runtime exited with error: signal: killed)",
    "Runtime.OutOfMemory": "out of memory (Runtime.OutOfMemory)",
    "status=timeout": "Task timed out (Lambda platform record with status timeout)",
    "Runtime.ImportModuleError": "Runtime.ImportModuleError",
    "Runtime.ExitError": "Runtime.ExitError",
}
