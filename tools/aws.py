"""boto3 clients for the read-only tools: one session, one retry policy, one endpoint rule,
and clients for other regions and other accounts.

boto3 already reads `AWS_ENDPOINT_URL` and `AWS_ENDPOINT_URL_<SERVICE>` itself, so an
emulator or a VPC endpoint needs no code here; an explicit `endpoint_url` (the
`--endpoint-url` flag, the in-process emulator) wins over them.

A service in another account is read with a role there: `for_target(role_arn=...)`
gives clients whose credentials come from STS `AssumeRole` with the bot's own
credentials, asked when first used, kept until shortly before they expire and then asked
again (botocore's refreshable credentials). Every region and role of one `AwsClients`
family shares those credentials and the clients already made.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import boto3
import botocore.session
from botocore.config import Config
from botocore.credentials import (
    CredentialProvider,
    CredentialResolver,
    Credentials,
    DeferredRefreshableCredentials,
)

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
# SQS long polls hold the connection up to 20 s: its reads wait longer than that.
# CloudTrail LookupEvents allows 2 requests per second per account and region: the adaptive
# mode slows the client down on throttling instead of failing after three quick tries.
SERVICE_CONFIGS = {
    "sqs": RETRY_CONFIG.merge(Config(read_timeout=30)),
    "cloudtrail": RETRY_CONFIG.merge(Config(retries={"mode": "adaptive", "max_attempts": 6})),
}
ROLE_SESSION_NAME = "llm-incident"
ROLE_SECONDS = 3600  # asked again about 15 minutes before they run out (botocore's advice)
Clock = Callable[[], datetime]


class _AssumedRole(CredentialProvider):
    """Hands botocore the refreshable credentials of one role (and nothing else: no
    environment, no profile is consulted for a role's clients)."""

    METHOD = "llm-incident-assume-role"
    CANONICAL_NAME = "llm-incident-assume-role"

    def __init__(self, credentials: Credentials) -> None:
        super().__init__()
        self._credentials = credentials

    def load(self) -> Credentials:
        return self._credentials


@dataclass
class _Family:
    """What an `AwsClients` shares with the clients it made for other regions and roles."""

    lock: threading.RLock = field(default_factory=threading.RLock)
    members: dict[tuple[str, str | None, str | None], AwsClients] = field(default_factory=dict)
    sessions: dict[tuple[str, str | None], boto3.session.Session] = field(default_factory=dict)
    capabilities: dict[str, bool] = field(default_factory=dict)
    clock: Clock | None = None


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
        *,
        role_arn: str | None = None,
        external_id: str | None = None,
        clock: Clock | None = None,
        _family: _Family | None = None,
        _root: AwsClients | None = None,
    ) -> None:
        self.region = region
        self.endpoint_url = endpoint_url
        self.role_arn = role_arn
        self.external_id = external_id
        self._session = session or boto3.session.Session(region_name=region)
        self._family = _family or _Family(clock=clock)
        self._root = _root or self
        self._clients: dict[tuple[str, bool], Any] = {}
        # What the endpoint turned out to support (e.g. real Logs Insights), probed once.
        self.capabilities = self._family.capabilities
        self._limiters: dict[str, RateLimiter] = {}
        if _root is None:
            self._family.members[(region, None, None)] = self

    def limiter(self, api: str, per_second: float, burst: int = 1) -> RateLimiter:
        """The one rate limiter of an API for these clients' account and region."""
        with self._family.lock:
            return self._limiters.setdefault(api, RateLimiter(per_second, burst))

    def client(self, service: str, *, probe: bool = False) -> Any:
        key = (service, probe)
        with self._family.lock:
            if key not in self._clients:
                kwargs: dict[str, Any] = {
                    "region_name": self.region,
                    "config": PROBE_CONFIG if probe else SERVICE_CONFIGS.get(service, RETRY_CONFIG),
                }
                if self.endpoint_url:
                    kwargs["endpoint_url"] = self.endpoint_url
                self._clients[key] = self._session.client(service, **kwargs)
            return self._clients[key]

    def for_target(
        self,
        region: str | None = None,
        role_arn: str | None = None,
        external_id: str | None = None,
    ) -> AwsClients:
        """Clients in `region` (default: this one's), as `role_arn` when given (else with
        the bot's own credentials); made once per region and role, then reused."""
        region = region or self.region
        key = (region, role_arn, external_id if role_arn else None)
        with self._family.lock:
            found = self._family.members.get(key)
            if found is None:
                root = self._root
                session = self._role_session(role_arn, external_id) if role_arn else root._session
                found = AwsClients(
                    region,
                    root.endpoint_url,
                    session,
                    role_arn=role_arn,
                    external_id=external_id,
                    _family=self._family,
                    _root=root,
                )
                self._family.members[key] = found
            return found

    def assume(self) -> None:
        """Ask STS for the role's credentials now (a check), not at the first read;
        raises what AssumeRole raises. Nothing happens for the bot's own credentials."""
        if self.role_arn:
            credentials = self._session.get_credentials()
            if credentials is not None:
                credentials.get_frozen_credentials()

    def _role_session(self, role_arn: str, external_id: str | None) -> boto3.session.Session:
        """One session per role, whose credentials STS hands out and botocore refreshes."""
        key = (role_arn, external_id)
        if key not in self._family.sessions:
            sts = self._root.client("sts")

            def fetch() -> dict[str, str]:
                params: dict[str, Any] = {
                    "RoleArn": role_arn,
                    "RoleSessionName": ROLE_SESSION_NAME,
                    "DurationSeconds": ROLE_SECONDS,
                }
                if external_id:
                    params["ExternalId"] = external_id
                granted = sts.assume_role(**params)["Credentials"]
                return {
                    "access_key": granted["AccessKeyId"],
                    "secret_key": granted["SecretAccessKey"],
                    "token": granted["SessionToken"],
                    "expiry_time": granted["Expiration"].isoformat(),
                }

            extra = {"time_fetcher": self._family.clock} if self._family.clock else {}
            credentials = DeferredRefreshableCredentials(
                refresh_using=fetch, method=_AssumedRole.METHOD, **extra
            )
            core = botocore.session.Session()
            core.register_component(
                "credential_provider", CredentialResolver([_AssumedRole(credentials)])
            )
            self._family.sessions[key] = boto3.session.Session(
                botocore_session=core, region_name=self._root.region
            )
        return self._family.sessions[key]


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
