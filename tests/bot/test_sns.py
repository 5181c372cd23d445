import base64
import datetime as dt
import json

import pytest
import responses
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from bot.ingest.sns import CertificateCache, SnsError, string_to_sign, verify

CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem"


def make_signer():
    """A test key and self-signed certificate standing in for SNS's."""
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


def signed(message: dict, version: str = "2", key=KEY, url: str = CERT_URL) -> dict:
    message = {**message, "SignatureVersion": version, "SigningCertURL": url}
    algorithm = hashes.SHA256() if version == "2" else hashes.SHA1()  # noqa: S303
    signature = key.sign(string_to_sign(message), padding.PKCS1v15(), algorithm)
    return {**message, "Signature": base64.b64encode(signature).decode()}


NOTIFICATION = {
    "Type": "Notification",
    "MessageId": "m-1",
    "TopicArn": "arn:aws:sns:us-east-1:111122223333:alarms",
    "Message": json.dumps({"AlarmName": "x"}),
    "Timestamp": "2026-11-20T12:00:00.000Z",
}


@pytest.fixture
def cert_server():
    with responses.RequestsMock() as mock:
        mock.get(CERT_URL, body=PEM)
        yield mock


@pytest.mark.parametrize("version", ["1", "2"])
def test_both_signature_versions_verify(cert_server, version):
    verify(signed(NOTIFICATION, version), CertificateCache())


def test_certificate_is_fetched_once(cert_server):
    cache = CertificateCache()
    verify(signed(NOTIFICATION), cache)
    verify(signed({**NOTIFICATION, "MessageId": "m-2"}), cache)
    assert len(cert_server.calls) == 1


def test_tampered_message_is_rejected(cert_server):
    message = signed(NOTIFICATION)
    message["Message"] = json.dumps({"AlarmName": "forged"})
    with pytest.raises(SnsError, match="signature does not match"):
        verify(message, CertificateCache())


def test_signature_by_another_key_is_rejected(cert_server):
    other, _ = make_signer()
    with pytest.raises(SnsError, match="signature does not match"):
        verify(signed(NOTIFICATION, key=other), CertificateCache())


@pytest.mark.parametrize(
    "url",
    [
        "http://sns.us-east-1.amazonaws.com/cert.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/cert.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/cert.pem",
    ],
)
def test_certificate_only_from_an_sns_host(url):
    with pytest.raises(SnsError, match="SigningCertURL"):
        verify(signed(NOTIFICATION, url=url), CertificateCache())


def test_unknown_type_and_version_are_rejected():
    with pytest.raises(SnsError, match="unknown SNS message type"):
        verify({**NOTIFICATION, "Type": "Surprise"}, CertificateCache())
    with pytest.raises(SnsError, match="SignatureVersion"):
        verify({**NOTIFICATION, "SignatureVersion": "9"}, CertificateCache())
