"""SNS's message signature, with a key and certificate of our own standing in for SNS's.

The bot accepts an SNS delivery on `/aws/sns` only when its signature verifies against
the certificate at `SigningCertURL` (`bot.ingest.sns`). To send it signed notifications
without AWS, `signed` signs a message as SNS does (SignatureVersion 1, SHA1, or 2,
SHA256, over SNS's canonical string to sign) with a test key, and `PEM` is the
self-signed certificate a test or a bench serves at `CERT_URL` (with `responses`, or by
seeding the bot's `CertificateCache`). SNS signs every topic's messages with its
certificate for the region, whichever account owns the topic, so one key stands in for
SNS in any account: `notification` and `subscription_confirmation` build a topic's
messages (a stranger's topic as well as ours), `fresh` stamps one as sent now (the bot
refuses stale ones), `cert_url` is the certificate URL of another region. Records
nothing. A test key and certificate, made afresh at import: never AWS's.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import uuid
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from bot.ingest.sns import string_to_sign

CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"


def make_signer() -> tuple[rsa.RSAPrivateKey, bytes]:
    """A test key and self-signed certificate (PEM) standing in for SNS's."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sns.amazonaws.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return key, cert.public_bytes(serialization.Encoding.PEM)


KEY, PEM = make_signer()


def signed(
    message: dict[str, Any],
    version: str = "2",
    key: rsa.RSAPrivateKey = KEY,
    url: str = CERT_URL,
) -> dict[str, Any]:
    """`message` with `SignatureVersion`, `SigningCertURL` and its `Signature`."""
    message = {**message, "SignatureVersion": version, "SigningCertURL": url}
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()  # noqa: S303
    signature = key.sign(string_to_sign(message), padding.PKCS1v15(), algorithm)
    return {**message, "Signature": base64.b64encode(signature).decode()}


def cert_url(region: str) -> str:
    """Where SNS serves its signing certificate in `region` (the bot fetches only these)."""
    return f"https://sns.{region}.amazonaws.com/SimpleNotificationService-test.pem"


def stamp(at: dt.datetime | None = None) -> str:
    """A `Timestamp` as SNS writes it (`2026-11-20T12:00:00.000Z`)."""
    at = (at or dt.datetime.now(dt.UTC)).astimezone(dt.UTC)
    return at.strftime("%Y-%m-%dT%H:%M:%S.") + f"{at.microsecond // 1000:03d}Z"


def fresh(message: dict[str, Any], at: dt.datetime | None = None) -> dict[str, Any]:
    """The message as SNS sends it now (its Timestamp now, or at `at`); sign it after."""
    return {**message, "Timestamp": stamp(at)}


def notification(
    topic_arn: str, message: dict[str, Any], message_id: str | None = None
) -> dict[str, Any]:
    """A topic's `Notification` carrying `message` (an alarm message), sent now, unsigned."""
    region = topic_arn.split(":")[3]
    return {
        "Type": "Notification",
        "MessageId": message_id or str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Message": json.dumps(message),
        "Timestamp": stamp(),
        "UnsubscribeURL": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe",
    }


def subscription_confirmation(topic_arn: str, token: str = "tok") -> dict[str, Any]:  # noqa: S107
    """What SNS posts to an HTTPS endpoint subscribed to `topic_arn`, sent now, unsigned."""
    region = topic_arn.split(":")[3]
    return {
        "Type": "SubscriptionConfirmation",
        "MessageId": str(uuid.uuid4()),
        "Token": token,
        "TopicArn": topic_arn,
        "Message": f"You have chosen to subscribe to the topic {topic_arn}.",
        "SubscribeURL": f"https://sns.{region}.amazonaws.com/?Action=ConfirmSubscription"
        f"&TopicArn={topic_arn}&Token={token}",
        "Timestamp": stamp(),
    }
