"""The failure vocabulary: the words and names by which telemetry says what went wrong.

One home for every error signature and failure phrase the project recognises: the log
tool marks lines with them, triage scores categories by them, runbook signals name them
by id. Each `Family` groups the signatures of one kind of failure, written from what
Bedrock, the AWS SDKs (boto3/botocore, the JavaScript SDK v3, the Converse API's event
streams) and Lambda's runtime actually print, so that changing how a family is recognised
changes it everywhere at once.

Every signature matches as a whole token, ignoring case: `OOM` must not fire on `zoom` or
`war-room`, `0 results` not on `10 results`, `tool_use` not on `tool_user`. Free-text
phrases are worded the way the service words them ("Input is too long for requested
model", "is not authorized to perform"), not as stems ("too long", "refus") that everyday
text also contains ("request took too long to render", "Connection refused").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

# An exception or fault class name anywhere in a line: `ThrottlingException`, `KeyError`.
EXCEPTION_NAME = re.compile(r"\b([A-Z][A-Za-z0-9]*(?:Exception|Error|Fault))\b")


@lru_cache(maxsize=2048)
def token(phrase: str) -> re.Pattern[str]:
    """A phrase as a whole-token, case-insensitive pattern: no letter, digit or `_` may
    touch either end (so `OOM` is not found in `zoom`, nor `agent` in `user_agent`)."""
    return re.compile(rf"(?<![A-Za-z0-9_]){re.escape(phrase)}(?![A-Za-z0-9_])", re.I)


@dataclass(frozen=True)
class Signature:
    """One way a failure is written: an error code, an SDK message, a platform line."""

    id: str  # `<family>.<name>`: what runbooks and evidence refer to
    regex: str  # matched ignoring case; write word boundaries in
    http_status: int | None = None  # the status the service answers with, when it has one
    note: str = ""  # who writes it (boto3, JS SDK v3, Converse, Lambda runtime)

    @property
    def pattern(self) -> re.Pattern[str]:
        return _compiled(self.regex)


@lru_cache(maxsize=512)
def _compiled(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.I)


def _sig(
    family: str, name: str, regex: str, status: int | None = None, note: str = ""
) -> Signature:
    return Signature(f"{family}.{name}", regex, status, note)


def _word(phrase: str) -> str:
    return token(phrase).pattern


@dataclass(frozen=True)
class Family:
    """The signatures of one kind of failure; `id` is what runbook signals name."""

    id: str
    signatures: tuple[Signature, ...]
    about: str = ""

    def find(self, text: str) -> Signature | None:
        """The first signature found in `text`, or None."""
        return next((s for s in self.signatures if s.pattern.search(text)), None)

    def search(self, text: str) -> bool:
        return self.find(text) is not None


def _family(family_id: str, about: str, *entries: tuple) -> Family:
    signatures = []
    for entry in entries:
        name, regex, *rest = entry
        signatures.append(_sig(family_id, name, regex, *rest))
    return Family(family_id, tuple(signatures), about)


def matches(text: str, *terms: Family | str) -> bool:
    """Whether `text` carries one of the terms: a family's signature, or a phrase as a
    whole token."""
    return any(
        term.search(text) if isinstance(term, Family) else token(term).search(text)
        for term in terms
    )


# --- The model provider --------------------------------------------------------------

MODEL_THROTTLES = _family(
    "model_throttle",
    "Bedrock refuses calls over a requests- or tokens-per-minute (or per-day) quota",
    # boto3: `An error occurred (ThrottlingException) when calling the InvokeModel operation
    # (reached max retries: 4): Too many requests, please wait before trying again.`; the
    # event-stream form writes the code lower-case (`throttlingException`); the JS SDK v3
    # error object has `"name": "ThrottlingException"` and `httpStatusCode: 429`.
    ("ThrottlingException", _word("ThrottlingException"), 429, "boto3, JS SDK v3, Converse"),
    ("too_many_tokens", r"\bToo many tokens\b", 429, "tokens per minute or per day"),
    ("too_many_requests", r"\bToo many requests\b", 429, "requests per minute"),
    (
        "request_rate_too_high",
        r"\byour request rate is too high\b",
        429,
        "Bedrock Agents and Knowledge Bases (InvokeAgent, Retrieve)",
    ),
)
# What looks like a throttle but is not the model's: DynamoDB, Lambda's own 429.
NOT_MODEL_THROTTLES = _family(
    "not_model_throttle",
    "throttles of other services: DynamoDB, Lambda invocation limits",
    ("dynamodb", _word("dynamodb")),
    ("rate_exceeded", _word("Rate Exceeded"), 429, "Lambda Invoke"),
    ("TooManyRequestsException", _word("TooManyRequestsException"), 429, "Lambda Invoke"),
    ("ProvisionedThroughputExceededException", _word("ProvisionedThroughputExceededException")),
)

PROVIDER_FAILURES = _family(
    "provider_failure",
    "the model fails or times out on AWS's side",
    ("ModelTimeoutException", _word("ModelTimeoutException"), 408),
    ("ServiceUnavailableException", _word("ServiceUnavailableException"), 503),
    ("ModelNotReadyException", _word("ModelNotReadyException"), 429),
    ("InternalServerException", _word("InternalServerException"), 500),
    ("ModelErrorException", _word("ModelErrorException"), 424),
    ("ModelStreamErrorException", _word("ModelStreamErrorException"), 424),
    ("unable_to_process", r"\bBedrock is unable to process your request\b", 503),
    (
        "unexpected_error",
        r"\bThe system encountered an unexpected error during processing\b",
        500,
        "InternalServerException message",
    ),
    ("model_timed_out", r"\bModel has timed out\b", 408),
    ("too_many_connections", r"\bToo many connections\b", 503),
    (
        "endpoint_503",
        r"\b503 Service Unavailable\b[^\n]{0,80}bedrock-runtime",
        503,
        "an HTTP client (httpx) calling bedrock-runtime",
    ),
    (
        "read_timeout",
        r"\bRead timeout on endpoint URL: \W*https://bedrock-runtime",
        None,
        "botocore ReadTimeoutError: the model took longer than the client's read_timeout",
    ),
    ("model_not_ready", r"\bModel is not ready for inference\b", 429),
    (
        "agent_model_timeout",
        r"\breceived model timeout/error exception from Bedrock\b",
        424,
        "Bedrock Agents DependencyFailedException",
    ),
)

ACCESS_DENIED = _family(
    "access_denied",
    "a call lacks permission or model access",
    ("AccessDeniedException", _word("AccessDeniedException"), 403, "boto3, JS SDK v3"),
    (
        "not_authorized",
        r"\bis not authorized to perform\b",
        403,
        "IAM: `User: arn:... is not authorized to perform: bedrock:InvokeModel on resource`",
    ),
    ("no_identity_policy", r"\bno identity-based policy allows\b", 403),
    ("explicit_deny", r"\bwith an explicit deny\b", 403),
    ("no_model_access", r"\bdon['’]t have access to the model\b", 403, "model access not granted"),
    ("model_access_denied", r"\bModel access is denied\b", 403, "Marketplace subscription"),
    ("access_denied_calling", r"\bAccess denied when calling Bedrock\b", 403, "Bedrock Agents"),
    ("AccessDenied", _word("AccessDenied"), 403, "S3, STS"),
    ("UnrecognizedClientException", _word("UnrecognizedClientException"), 403),
    ("ExpiredTokenException", _word("ExpiredTokenException"), 403),
    ("PermissionDeniedError", _word("PermissionDeniedError"), 403, "Anthropic Bedrock SDK"),
)

INVALID_INPUT = _family(
    "invalid_input",
    "Bedrock rejects the request itself: too long for the context window, a broken body",
    ("ValidationException", _word("ValidationException"), 400, "boto3, JS SDK v3, Converse"),
    ("input_too_long", r"\bInput is too long\b", 400, "`Input is too long for requested model.`"),
    (
        "prompt_too_long",
        r"\bprompt is too long\b",
        400,
        "`prompt is too long: N tokens > M maximum`",
    ),
    ("malformed_input", r"\bMalformed input request\b", 400),
    ("roles_alternate", r"\bmust alternate between user and assistant\b", 400, "Converse"),
    ("roles_alternate_short", r"\broles must alternate\b", 400),
    ("context_window", r"\bmodel_context_window_exceeded\b|\bcontext window\b", 400),
    ("maximum_context", r"\bmaximum context length\b|\bmaximum context\b", 400),
    ("too_many_input_tokens", r"\btoo many input tokens\b", 400),
    ("max_tokens_over_limit", r"\bexceed the model limit\b", 400),
    ("body_too_large", r"\bMember must have length less than or equal to\b", 400),
)

# --- Our own code ----------------------------------------------------------------------

# The exceptions a bad deployment raises. `Traceback` is not one: any unhandled error,
# including a provider's ValidationException, is printed with a traceback. `ValidationError`
# (pydantic, our own request model) is; `ValidationException` (Bedrock's) is not.
CODE_ERRORS = _family(
    "code_error",
    "our own code broke: programming errors, a handler that does not load",
    *(
        (name, _word(name))
        for name in (
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
            "ValidationError",
            "AssertionError",
            "NotImplementedError",
            "RecursionError",
            "ZeroDivisionError",
            "ReferenceError",
            "Runtime.ImportModuleError",
            "Runtime.HandlerNotFound",
            "Runtime.UserCodeSyntaxError",
        )
    ),
    ("js_undefined", r"\bCannot read propert(?:y|ies) of (?:undefined|null)\b", None, "Node.js"),
    ("js_not_a_function", r"\bis not a function\b", None, "Node.js"),
)

# --- Dependencies ------------------------------------------------------------------------

DEPENDENCY_ERRORS = _family(
    "dependency_error",
    "a downstream dependency (database, cache, HTTP API) fails or is slow",
    *(
        (name, _word(name))
        for name in (
            "ConnectTimeout",
            "ConnectTimeoutError",
            "ReadTimeout",
            "ReadTimeoutError",
            "ConnectionError",
            "ConnectionTimeout",
            "EndpointConnectionError",
            "TimeoutError",
            "ProvisionedThroughputExceededException",
            "RequestLimitExceeded",
        )
    ),
    ("connection_reset", r"\bConnection reset\b"),
    ("connection_refused", r"\bConnection refused\b"),
    ("could_not_connect", r"\bCould not connect to the endpoint URL\b", None, "botocore"),
    ("socket_timeout", r"\bsocket timeout\b"),
    ("read_timed_out", r"\bRead timed out\b", None, "urllib3, requests"),
    ("circuit_open", r"\bcircuit(?: breaker)? (?:is )?open\b|\bcircuit breaker\b"),
    ("bad_gateway", r"\b502 Bad Gateway\b", 502),
    ("service_unavailable_503", r"\b503 Service Unavailable\b", 503),
    ("gateway_timeout", r"\b504 Gateway\b", 504),
)
DEPENDENCY_NAMES = _family(
    "dependency_name",
    "names of common dependencies in a failure line",
    ("dynamodb", _word("dynamodb")),
    ("redis", _word("redis")),
    ("upstream", _word("upstream")),
)

# --- The function's own compute (Lambda platform errors) ---------------------------------

LAMBDA_RATE_LIMITS = _family(
    "lambda_rate_limit",
    "Lambda refuses invocations: concurrency or request-rate limits",
    ("rate_exceeded", _word("Rate Exceeded"), 429),
    ("TooManyRequestsException", _word("TooManyRequestsException"), 429),
    (
        "concurrency_limit",
        r"\b(?:Reserved)?(?:Function)?ConcurrentInvocationLimitExceeded\b",
        429,
    ),
)
# Lambda kills a runtime that exceeds its memory with SIGKILL: older runtimes report
# `Runtime exited with error: signal: killed` (Runtime.ExitError), newer ones
# Runtime.OutOfMemory; a container reports `exit status 137`.
OUT_OF_MEMORY = _family(
    "out_of_memory",
    "the function ran out of memory",
    ("Runtime.OutOfMemory", _word("Runtime.OutOfMemory"), None, "Lambda"),
    ("signal_killed", r"\bsignal: killed\b", None, "Lambda: Runtime exited with error"),
    ("exit_137", r"\bexit status 137\b", None, "SIGKILL"),
    ("MemoryError", _word("MemoryError"), None, "Python"),
    ("out_of_memory", r"\bout of memory\b", None, "`JavaScript heap out of memory`"),
    ("OOM", r"\bOOM(?:Killed)?\b"),
    ("cannot_allocate", r"\bCannot allocate memory\b"),
)
RUNTIME_EXITS = _family(
    "runtime_exit",
    "Lambda's runtime process died during an invocation",
    ("Runtime.ExitError", _word("Runtime.ExitError"), None, "Lambda"),
    ("runtime_exited", r"\bRuntime exited with error\b", None, "Lambda"),
    ("runtime_exited_no_reason", r"\bRuntime exited without providing a reason\b", None, "Lambda"),
)
FUNCTION_TIMEOUTS = _family(
    "function_timeout",
    "the invocation hit the function's timeout",
    ("task_timed_out", r"\bTask timed out after [\d.]+ seconds\b", None, "Lambda"),
    ("task_timed_out_short", r"\bTask timed out\b", None, "Lambda"),
    ("Sandbox.Timedout", _word("Sandbox.Timedout"), None, "Lambda"),
    ("status_timeout", r"\bstatus[=:] ?timeout\b", None, "Lambda platform.report"),
)
COLD_START = _family(
    "cold_start",
    "Lambda started a new execution environment",
    ("init_duration", r"\bInit Duration\b", None, "REPORT line"),
)

# --- What users see -------------------------------------------------------------------

DEGRADED_ANSWERS = _family(
    "degraded_answer",
    "answers got worse: cut off at the token limit, refused",
    ("max_tokens", _word("max_tokens"), None, "stop reason"),
    ("MaxTokensReachedException", _word("MaxTokensReachedException"), None, "Strands"),
    ("truncated", _word("truncated")),
    ("im_sorry", r"\bI['’]m sorry\b"),
    ("cannot_help", r"\bI (?:cannot|can['’]t) (?:help|assist)\b"),
    ("unable_to_help", r"\bI['’]m (?:not able|unable) to (?:help|assist)\b"),
    ("cant_help", r"\bcan['’]t help with\b"),
    ("refusal", r"\brefusal\b|\brefused to answer\b|\bdeclined to answer\b"),
)

AGENT_LOOPS = _family(
    "agent_loop",
    "an agent keeps calling tools: iteration and recursion limits, tool-use turns",
    ("tool_use", _word("tool_use"), None, "stopReason of a tool-use turn"),
    ("agent_step", r"\bagent step\b"),
    ("max_iterations", r"\bmax(?:imum)?[ _]iterations\b"),
    ("iteration_limit", r"\biteration limit\b", None, "LangChain: Agent stopped due to ..."),
    ("recursion_limit", r"\bRecursion limit of \d+ reached\b", None, "LangGraph"),
    ("GraphRecursionError", _word("GraphRecursionError"), None, "LangGraph"),
)

PROMPT_ATTACKS = _family(
    "prompt_attack",
    "someone attacks the model through its input",
    ("PROMPT_ATTACK", _word("PROMPT_ATTACK"), None, "guardrail content filter type"),
    ("jailbreak", _word("jailbreak")),
    ("prompt_injection", r"\bprompt injection\b"),
    ("blocked_input", r"\bblocked input\b|\binput blocked\b"),
    ("ignore_previous", r"\bignore (?:all )?previous instructions\b|\bignore previous\b"),
)

EMPTY_RETRIEVAL = _family(
    "empty_retrieval",
    "retrieval found nothing",
    ("zero_documents", _word("0 documents")),
    ("no_results", _word("no results")),
    ("empty_context", _word("empty context")),
    ("zero_results", _word("0 results")),
    ("no_documents", _word("no documents")),
    ("number_of_results_zero", r"\bnumberOfResults[=:] ?0(?![\d.])"),
    ("retrieved_zero", r"\bretrieved 0(?![\d.])"),
    ("empty_results", r"\"retrievalResults\": ?\[\]"),
)

# Bedrock's own error codes, whatever the category: a line carrying one is the provider
# answering, not a dependency of ours failing.
PROVIDER_ERRORS = Family(
    "provider_error",
    (
        *MODEL_THROTTLES.signatures[:1],
        *PROVIDER_FAILURES.signatures[:6],
        *ACCESS_DENIED.signatures[:1],
        *INVALID_INPUT.signatures[:1],
        _sig(
            "provider_error",
            "ServiceQuotaExceededException",
            _word("ServiceQuotaExceededException"),
        ),
        _sig("provider_error", "DependencyFailedException", _word("DependencyFailedException")),
    ),
    "an error code Bedrock answers with",
)

FAMILIES: dict[str, Family] = {
    family.id: family
    for family in (
        MODEL_THROTTLES,
        NOT_MODEL_THROTTLES,
        PROVIDER_FAILURES,
        ACCESS_DENIED,
        INVALID_INPUT,
        CODE_ERRORS,
        DEPENDENCY_ERRORS,
        DEPENDENCY_NAMES,
        LAMBDA_RATE_LIMITS,
        OUT_OF_MEMORY,
        RUNTIME_EXITS,
        FUNCTION_TIMEOUTS,
        COLD_START,
        DEGRADED_ANSWERS,
        AGENT_LOOPS,
        PROMPT_ATTACKS,
        EMPTY_RETRIEVAL,
        PROVIDER_ERRORS,
    )
}
SIGNATURES: dict[str, Signature] = {
    s.id: s for family in FAMILIES.values() for s in family.signatures
}


def lookup(term: str) -> re.Pattern[str]:
    """What a runbook signal means: a family id (`model_throttle`), a signature id
    (`out_of_memory.signal_killed`), or else an AWS term matched as a whole token."""
    if term in FAMILIES:
        joined = "|".join(f"(?:{s.regex})" for s in FAMILIES[term].signatures)
        return _compiled(joined)
    if term in SIGNATURES:
        return SIGNATURES[term].pattern
    return token(term)


def is_vocabulary_id(term: str) -> bool:
    return term in FAMILIES or term in SIGNATURES


# The families whose signatures mark a line as a failure even when it names no exception
# class and has no ERROR level.
MARKED_FAMILIES = (
    MODEL_THROTTLES,
    PROVIDER_FAILURES,
    ACCESS_DENIED,
    INVALID_INPUT,
    DEPENDENCY_ERRORS,
    LAMBDA_RATE_LIMITS,
    OUT_OF_MEMORY,
    RUNTIME_EXITS,
    FUNCTION_TIMEOUTS,
    COLD_START,
)


def markers(text: str) -> list[str]:
    """The failure phrases a line carries, as the line words them (`Task timed out after
    3.07 seconds`, `signal: killed`): the first signature found of each marked family."""
    found: list[str] = []
    for family in MARKED_FAMILIES:
        for signature in family.signatures:
            if match := signature.pattern.search(text):
                if match.group(0) not in found:
                    found.append(match.group(0))
                break
    return found


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
