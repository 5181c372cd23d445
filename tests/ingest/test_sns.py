import json

import pytest
import responses

from bot.ingest.sns import CertificateCache, SnsError, verify
from bot.sim.fakes.sns import CERT_URL, PEM, make_signer, signed

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


def test_a_message_is_fresh_only_within_its_age_limit():
    from datetime import UTC, datetime, timedelta

    from bot.ingest.sns import check_fresh

    now = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
    hour = timedelta(hours=1)
    check_fresh({"Timestamp": "2026-11-20T11:30:00.000Z"}, hour, now)
    check_fresh({"Timestamp": "2026-11-20T12:04:00.000Z"}, hour, now)  # a clock a little ahead
    with pytest.raises(SnsError, match="stale: sent 3601s ago"):
        check_fresh({"Timestamp": "2026-11-20T10:59:59.000Z"}, hour, now)
    with pytest.raises(SnsError, match="in the future"):
        check_fresh({"Timestamp": "2026-11-20T12:30:00.000Z"}, hour, now)
    with pytest.raises(SnsError, match="is not a time"):
        check_fresh({"Timestamp": "yesterday"}, hour, now)
    with pytest.raises(SnsError, match="is not a time"):
        check_fresh({}, hour, now)
