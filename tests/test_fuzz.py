"""Hostile input: every parser of outside input, fed what hypothesis makes up, raises
only its own error (which the caller turns into a clear message), never anything else."""

import base64
import contextlib
import json
import string
import threading

import pytest
import yaml
from cryptography import x509
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from bot.agent.prompts import Submission
from bot.config import Settings
from bot.engine.catalog import CatalogError, parse_catalog
from bot.engine.runbooks import RunbookError, parse_runbook
from bot.ingest.sns import CertificateCache, SnsError, verify
from bot.server.runtime import build
from bot.server.web import WebApp, make_server
from bot.sim.fakes.slack import fake_slack, signed_headers
from bot.sim.fakes.sns import CERT_URL, PEM
from tests.fixtures.database import fresh_database
from tests.fixtures.loopback import post

scalars = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text()
values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner),
    max_leaves=20,
)
SNS_KEYS = ["Type", "Message", "MessageId", "Signature", "SignatureVersion", "SigningCertURL"]


@given(
    st.dictionaries(st.sampled_from(SNS_KEYS), values)
    | st.fixed_dictionaries(
        {
            "Type": st.sampled_from(["Notification", "SubscriptionConfirmation"]),
            "SignatureVersion": st.sampled_from(["1", "2"]),
            "SigningCertURL": st.just(CERT_URL),
            "Signature": st.binary(max_size=300).map(lambda b: base64.b64encode(b).decode()),
            "Message": st.text(),
        }
    )
)
def test_sns_verification_refuses_anything_unsigned(message):
    cache = CertificateCache(known={CERT_URL: x509.load_pem_x509_certificate(PEM)})
    with pytest.raises(SnsError):
        verify(message, cache)


service = st.fixed_dictionaries(
    {"name": st.text(max_size=20)},
    optional={
        "slack_channel": values,
        "lambda_functions": values,
        "log_groups": values,
        "bedrock": values,
    },
)


@given(values | st.fixed_dictionaries({"services": st.lists(service, max_size=3) | values}))
def test_catalog_parser_raises_only_catalog_errors(data):
    with contextlib.suppress(CatalogError):
        parse_catalog(data, "catalog.yaml")


front_matter = st.dictionaries(
    st.sampled_from(["id", "title", "category", "severity", "signals", "remediation"]), values
)


@given(front_matter, st.text())
def test_runbook_parser_raises_only_runbook_errors(meta, body):
    try:
        text = f"---\n{yaml.safe_dump(meta)}---\n{body}"
    except yaml.YAMLError:
        return
    with contextlib.suppress(RunbookError):
        parse_runbook(text, "runbooks/x.md")


@given(st.text(max_size=300))
def test_runbook_parser_survives_any_text(text):
    with contextlib.suppress(RunbookError):
        parse_runbook(text, "runbooks/x.md")


@given(
    values
    | st.dictionaries(
        st.sampled_from(
            ["category", "root_cause", "confidence", "evidence", "remediation", "runbook"]
        ),
        values,
    )
)
def test_llm_submissions_are_validated_or_refused(answer):
    try:
        submission = Submission.model_validate(answer)
    except ValidationError:
        return
    assert 0 <= submission.confidence <= 1


@pytest.fixture(scope="module")
def slack_url(tmp_path_factory):
    """The bot's HTTP server, shared by the examples (one server, many requests)."""
    databases = fresh_database(tmp_path_factory.mktemp("fuzz"))
    with fake_slack() as slack:
        settings = Settings(
            _env_file=None,
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET="fuzz-secret",
            SLACK_API_URL=slack.url + "/api/",
            DATABASE_URL=next(databases),
            LLM_INCIDENT_DEFAULT_CHANNEL="#incidents",
            AWS_ENDPOINT_URL="http://127.0.0.1:9",
        )
        ctx, app = build(settings)
        server = make_server(WebApp(app, ctx.incidents), "127.0.0.1", 0)
        threading.Thread(target=server.run, daemon=True).start()
        yield f"http://127.0.0.1:{server.effective_port}/slack/events"
        server.close()
        ctx.runtime.executor.shutdown(wait=True, cancel_futures=True)
    with contextlib.suppress(StopIteration):
        next(databases)


slack_bodies = (
    st.binary(max_size=100)
    | st.text(alphabet=string.printable, max_size=200).map(str.encode)
    | st.dictionaries(st.sampled_from(["command", "text", "user_id", "channel_id"]), st.text()).map(
        lambda d: "&".join(f"{k}={v}" for k, v in d.items()).encode()
    )
    | values.map(lambda v: ("payload=" + json.dumps(v)).encode())
    | values.map(lambda v: json.dumps(v).encode())
)


@settings(max_examples=80, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    slack_bodies,
    st.sampled_from(["application/x-www-form-urlencoded", "application/json"]),
    st.booleans(),
)
def test_slack_requests_of_any_shape_get_a_clear_answer(slack_url, body, content_type, sign):
    text = body.decode("utf-8", "replace")
    headers = signed_headers(text, "fuzz-secret" if sign else "wrong", content_type)
    status, answer = post(slack_url, body, headers)
    assert status in (200, 400, 401, 404), answer
