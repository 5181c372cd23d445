"""SNS's message signature, with a key and certificate of our own standing in for SNS's.

The bot accepts an SNS delivery on `/aws/sns` only when its signature verifies against
the certificate at `SigningCertURL` (`bot.ingest.sns`). To send it signed notifications
without AWS, `signed` signs a message as SNS does (SignatureVersion 1, SHA1, or 2,
SHA256, over SNS's canonical string to sign) with a test key, and `PEM` is the
self-signed certificate a test or a bench serves at `CERT_URL` (with `responses`, or by
seeding the bot's `CertificateCache`). Records nothing. A test key and certificate,
made afresh at import: never AWS's.
"""

from __future__ import annotations

import base64
import datetime as dt
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
