"""boto3 clients for the read-only tools: one session, one retry policy, one endpoint rule.

boto3 already reads `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` itself, so an
emulator or a VPC endpoint needs no code here; an explicit `endpoint_url` (the
`--endpoint-url` flag, the in-process emulator) wins over them.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
from botocore.config import Config

# Standard retries (exponential backoff with jitter, throttling-aware); a call that
# still fails becomes a "missing" line in the evidence, never a crash.
RETRY_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": 3},
    connect_timeout=3,
    read_timeout=10,
    user_agent_extra="llm-incident",
)
# For capability probes whose failure is an answer (e.g. an emulator lacking an API):
# retrying a 501 or a 500 "not implemented" only wastes the on-call engineer's time.
PROBE_CONFIG = RETRY_CONFIG.merge(Config(retries={"mode": "standard", "max_attempts": 1}))
# CloudTrail LookupEvents allows 2 requests per second per account and region: the adaptive
# mode slows the client down on throttling instead of failing after three quick tries.
SERVICE_CONFIG = {
    "cloudtrail": RETRY_CONFIG.merge(Config(retries={"mode": "adaptive", "max_attempts": 6})),
}


class RateLimiter:
    """At most `per_second` calls a second (a burst of `burst`), across threads."""

    def __init__(self, per_second: float, burst: int = 1) -> None:
        self.interval = 1.05 / per_second  # a little under the limit: clocks differ
        self.burst = burst
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self, deadline: float | None = None) -> bool:
        """Block until a call may go; False (without waiting) if that is past `deadline`."""
        with self._lock:
            now = time.monotonic()
            start = max(self._next, now - (self.burst - 1) * self.interval)
            if deadline is not None and start > deadline:
                return False
            self._next = start + self.interval
        time.sleep(max(start - time.monotonic(), 0))
        return True


class AwsClients:
    """A thread-safe cache of boto3 clients sharing one session.

    boto3 sessions are not thread-safe to create clients from concurrently, so
    client creation is serialised; the clients themselves are safe to share.
    """

    def __init__(
        self,
        region: str,
        endpoint_url: str | None = None,
        session: boto3.session.Session | None = None,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self._session = session or boto3.session.Session(region_name=region)
        self._clients: dict[tuple[str, bool], Any] = {}
        self._lock = threading.Lock()
        # What the endpoint turned out to support (e.g. real Logs Insights), probed once.
        self.capabilities: dict[str, bool] = {}
        self._limiters: dict[str, RateLimiter] = {}

    def limiter(self, api: str, per_second: float, burst: int = 1) -> RateLimiter:
        """The one rate limiter of an API for these clients' account and region."""
        with self._lock:
            return self._limiters.setdefault(api, RateLimiter(per_second, burst))

    def client(self, service: str, *, probe: bool = False) -> Any:
        key = (service, probe)
        with self._lock:
            if key not in self._clients:
                kwargs: dict[str, Any] = {
                    "region_name": self.region,
                    "config": PROBE_CONFIG if probe else SERVICE_CONFIG.get(service, RETRY_CONFIG),
                }
                if self.endpoint_url:
                    kwargs["endpoint_url"] = self.endpoint_url
                self._clients[key] = self._session.client(service, **kwargs)
            return self._clients[key]


def error_code(exc: BaseException) -> str:
    """The AWS error code of a botocore error, or the exception's class name."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = response.get("Error", {}).get("Code")
        if code:
            return str(code)
    return type(exc).__name__


def describe_error(exc: BaseException) -> str:
    """A one-line reason an evidence source is missing, e.g. `AccessDeniedException: ...`."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        error = response.get("Error", {})
        code = error.get("Code") or type(exc).__name__
        message = (error.get("Message") or "").strip()
        if code.isdigit():  # no AWS error in the body: an HTML error page or the like
            return f"HTTP {code} from the endpoint (the API is not available there)"
        return f"{code}: {message[:160]}" if message else str(code)
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text[:160]}" if text else type(exc).__name__
