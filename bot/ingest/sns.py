"""Amazon SNS HTTP(S) deliveries: signature check (versions 1 and 2), freshness and
subscription.

No maintained library verifies both signature versions, so this follows AWS's
documented procedure: the string to sign is built from a fixed list of keys in a
fixed order, the signing certificate is fetched only over HTTPS from an
`sns.<region>.amazonaws.com` host (and cached), and the signature is checked with
SHA1 (version 1) or SHA256 (version 2) RSA PKCS#1 v1.5. The signed `Timestamp` then
bounds how old a message may be: a genuine message captured and replayed later (with a
new MessageId it cannot have, or after its key was forgotten) is refused as stale.
"""

from __future__ import annotations

import base64
import re
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlparse

import requests
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from bot.errors import BadInputError

_SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
_NOTIFICATION_KEYS = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
_SUBSCRIPTION_KEYS = (
    "Message",
    "MessageId",
    "SubscribeURL",
    "Timestamp",
    "Token",
    "TopicArn",
    "Type",
)
TYPES = {"Notification", "SubscriptionConfirmation", "UnsubscribeConfirmation"}
CLOCK_SKEW = timedelta(minutes=5)  # how far in the future a Timestamp may be


class SnsError(BadInputError):
    """A delivery that is not a genuine SNS message; the text says which check failed."""


def string_to_sign(message: dict[str, Any]) -> bytes:
    keys = _NOTIFICATION_KEYS if message.get("Type") == "Notification" else _SUBSCRIPTION_KEYS
    parts = []
    for key in keys:
        if key in message and message[key] is not None:
            parts.append(f"{key}\n{message[key]}\n")
    return "".join(parts).encode()


def check_aws_url(url: str, what: str) -> None:
    parsed = urlparse(url)
    if parsed.scheme != "https" or not _SNS_HOST.match(parsed.hostname or ""):
        raise SnsError(f"{what} is not an https URL on an sns.<region>.amazonaws.com host")


class CertificateCache:
    """Signing certificates by URL, fetched once (they rotate rarely)."""

    def __init__(
        self,
        session: requests.Session | None = None,
        timeout: float = 5.0,
        known: dict[str, x509.Certificate] | None = None,
    ) -> None:
        self._session = session or requests.Session()
        self._timeout = timeout
        self._certificates: dict[str, x509.Certificate] = dict(known or {})
        self._lock = threading.Lock()

    def get(self, url: str) -> x509.Certificate:
        check_aws_url(url, "SigningCertURL")
        with self._lock:
            if url in self._certificates:
                return self._certificates[url]
        try:
            response = self._session.get(url, timeout=self._timeout)
            response.raise_for_status()
            certificate = x509.load_pem_x509_certificate(response.content)
        except (requests.RequestException, ValueError) as exc:
            raise SnsError(f"signing certificate unavailable: {exc}") from None
        with self._lock:
            self._certificates[url] = certificate
        return certificate


def verify(message: dict[str, Any], certificates: CertificateCache) -> None:
    """Raise SnsError unless the message is signed by SNS."""
    if not isinstance(message.get("Type"), str) or message["Type"] not in TYPES:
        raise SnsError(f"unknown SNS message type {str(message.get('Type'))[:40]!r}")
    version = str(message.get("SignatureVersion", ""))
    algorithm = {"1": hashes.SHA1(), "2": hashes.SHA256()}.get(version)  # noqa: S303 - SNS v1 is SHA1
    if algorithm is None:
        raise SnsError(f"unsupported SignatureVersion {version[:10]!r}")
    try:
        signature = base64.b64decode(str(message.get("Signature", "")), validate=True)
    except ValueError:
        raise SnsError("Signature is not base64") from None
    certificate = certificates.get(str(message.get("SigningCertURL", "")))
    try:
        certificate.public_key().verify(  # type: ignore[union-attr, call-arg]
            signature, string_to_sign(message), padding.PKCS1v15(), algorithm
        )
    except (InvalidSignature, TypeError, ValueError):
        raise SnsError("signature does not match") from None


def check_fresh(message: dict[str, Any], max_age: timedelta, now: datetime | None = None) -> None:
    """Raise SnsError unless the (signed) Timestamp is within `max_age` of now."""
    raw = message.get("Timestamp")
    try:
        sent = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError:
        raise SnsError(f"Timestamp {str(raw)[:40]!r} is not a time") from None
    if sent.tzinfo is None:
        sent = sent.replace(tzinfo=UTC)
    age = (now or datetime.now(UTC)) - sent
    if age > max_age:
        raise SnsError(
            f"stale: sent {age.total_seconds():.0f}s ago, more than {max_age.total_seconds():.0f}s"
        )
    if age < -CLOCK_SKEW:
        raise SnsError(f"Timestamp {sent.isoformat()} is in the future")


def confirm_subscription(message: dict[str, Any], session: requests.Session | None = None) -> None:
    """Visit the SubscribeURL of a (verified) SubscriptionConfirmation."""
    url = str(message.get("SubscribeURL", ""))
    check_aws_url(url, "SubscribeURL")
    response = (session or requests.Session()).get(url, timeout=5)
    response.raise_for_status()
