"""What discovery reads out of configuration, and how it reports an API it cannot use."""

from __future__ import annotations

import yaml
from botocore.exceptions import ClientError
from hypothesis import given
from hypothesis import strategies as st

from bot.engine.catalog import parse_catalog
from bot.engine.discovery import propose
from bot.engine.discovery.build import Discovered
from bot.engine.discovery.draft import Draft
from bot.engine.discovery.render import render_catalog
from bot.sim.emulator import emulator_session
from bot.sim.fakes.bedrock import BedrockEstate, fake_bedrock
from bot.sim.fakes.http import serve
from tools.discovery import read_inventory
from tools.discovery.base import Notes, attempt
from tools.discovery.references import (
    GUARDRAIL_ID,
    KNOWLEDGE_BASE_ID,
    MODEL_ID,
    from_environment,
    from_policy,
)
from tools.discovery.session import discovery_clients


def test_an_environment_names_models_guardrails_and_knowledge_bases():
    refs = from_environment(
        {
            "MODEL_ID": "us.anthropic.claude-3-5-haiku-20241022-v1:0",
            "FALLBACK": "arn:aws:bedrock:us-east-1::foundation-model/meta.llama3-70b-instruct-v1:0",
            "GUARDRAIL_IDENTIFIER": "gr3k8m2qz7xa",
            "GUARDRAIL_VERSION": "7",
            "KB_ID": "KBX7M2P4QL",
            "SECRET": "sk-ant-abcdefghijklmnop",
            "REGION": "us-east-1",
            "TABLE": "sessions",
        }
    )
    found = {(r.kind, r.value, r.version) for r in refs}
    assert found == {
        ("model", "us.anthropic.claude-3-5-haiku-20241022-v1:0", None),
        ("model", "meta.llama3-70b-instruct-v1:0", None),
        ("guardrail", "gr3k8m2qz7xa", "7"),
        ("knowledge_base", "KBX7M2P4QL", None),
    }
    assert {r.origin for r in refs} >= {"env MODEL_ID", "env KB_ID"}


def test_bare_ids_need_a_variable_named_for_them_or_an_id_the_account_has():
    env = {"SETTING_A": "gr3k8m2qz7xa", "SETTING_B": "KBX7M2P4QL"}
    assert from_environment(env) == []
    known = from_environment(env, known_guardrails=["gr3k8m2qz7xa"], known_knowledge_bases=[])
    assert [(r.kind, r.value) for r in known] == [("guardrail", "gr3k8m2qz7xa")]


def test_a_policy_names_what_it_allows_and_reports_wildcards():
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": ["bedrock:InvokeModel", "bedrock:Converse"],
                "Resource": [
                    "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
                    "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-pro-v1:0",
                ],
            },
            {"Effect": "Allow", "Action": "bedrock:Retrieve", "Resource": "*"},
            {
                "Effect": "Allow",
                "Action": "dynamodb:GetItem",
                "Resource": "arn:aws:dynamodb:us-east-1:123456789012:table/sessions/index/by-user",
            },
            {
                "Effect": "Deny",
                "Action": "bedrock:*",
                "Resource": "arn:aws:bedrock:us-east-1:123456789012:guardrail/abc",
            },
            {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket/*"},
        ],
    }
    refs, wildcards = from_policy(document, "policy p")
    assert {(r.kind, r.value) for r in refs} == {
        ("model", "anthropic.claude-3-haiku-20240307-v1:0"),
        ("model", "us.amazon.nova-pro-v1:0"),
        ("dynamodb", "sessions"),
    }
    assert wildcards == ["policy p: bedrock:Retrieve on *"]


@given(st.dictionaries(st.text(max_size=30), st.text(max_size=200), max_size=8))
def test_only_identifiers_named_in_the_environment_ever_come_out(env):
    """Whatever the environment holds, what comes out is an identifier found in it."""
    for ref in from_environment(env):
        assert any(ref.value in value for value in env.values())
        shape = {
            "model": MODEL_ID,
            "guardrail": GUARDRAIL_ID,
            "knowledge_base": KNOWLEDGE_BASE_ID,
        }.get(ref.kind)
        if shape is not None and "arn:" not in "".join(env.values()):
            assert shape.match(ref.value), ref


@given(
    st.recursive(
        st.none() | st.text(max_size=20) | st.integers(),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_any_policy_document_is_read_without_raising(document):
    refs, wildcards = from_policy(document, "fuzz")
    assert isinstance(refs, list) and isinstance(wildcards, list)


def _client_error(code: str, status: int = 400) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": "m"}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "ListGuardrails",
    )


def test_a_refused_or_missing_api_is_a_note_and_the_default():
    notes, said = Notes(), []
    for code in ("AccessDeniedException", "NotImplemented", "ThrottlingException"):

        def fail(code=code):
            raise _client_error(code)

        assert attempt(notes, f"bedrock:X{code}", fail, [], said.append) == []
    assert [n.kind for n in notes.items] == ["denied", "unsupported", "failed"]
    assert notes.lines()[0] == "bedrock:XAccessDeniedException denied: AccessDeniedException: m"
    assert all(line.startswith("skipped bedrock:X") for line in said)


_NAMES = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=40
).filter(lambda s: s.strip() == s and s)


@given(name=_NAMES, values=st.lists(_NAMES, max_size=3), origin=st.text(max_size=60))
def test_the_written_yaml_loads_back_into_the_entries_it_shows(name, values, origin):
    draft = Draft(name, origin)
    for value in values:
        draft.add("lambda_functions", value, origin)
        draft.add("model_ids", value, origin)
        draft.add_guardrail(value, "DRAFT", origin)
    draft.team = (values[0], origin) if values else None
    found = Discovered(services={name: draft})
    text = render_catalog(found, region="us-east-1", tag_key="service", notes=[origin], at=_AT)
    catalog = parse_catalog(yaml.safe_load(text), "rendered")
    assert catalog.services == [draft.entry()]


_AT = __import__("datetime").datetime(2026, 11, 20, 12, 0)


ACCOUNT = "123456789012"
BEDROCK_ARN = f"arn:aws:bedrock:us-east-1:{ACCOUNT}"
HAIKU = "anthropic.claude-3-5-haiku-20241022-v1:0"
NOVA = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-pro-v1:0"


def _bedrock_estate() -> BedrockEstate:
    guardrail = {"arn": f"{BEDROCK_ARN}:guardrail/gr1abc", "name": "pii", "status": "READY"}
    return BedrockEstate(
        guardrails=[
            {**guardrail, "id": "gr1abc", "version": "DRAFT"},
            {**guardrail, "id": "gr1abc", "version": "2"},
            {
                "id": "gr9zzz",
                "arn": f"{BEDROCK_ARN}:guardrail/gr9zzz",
                "name": "unused",
                "version": "1",
            },
        ],
        inference_profiles=[
            {
                "inferenceProfileId": "appprof1",
                "inferenceProfileName": "chat-profile",
                "inferenceProfileArn": f"{BEDROCK_ARN}:application-inference-profile/appprof1",
                "type": "APPLICATION",
                "status": "ACTIVE",
                "models": [{"modelArn": f"arn:aws:bedrock:us-east-1::foundation-model/{HAIKU}"}],
            },
            {"inferenceProfileId": f"us.{HAIKU}", "type": "SYSTEM_DEFINED", "models": []},
            {"inferenceProfileId": "us.amazon.nova-pro-v1:0", "type": "SYSTEM_DEFINED"},
        ],
        provisioned=[
            {
                "provisionedModelName": "steady",
                "provisionedModelArn": f"{BEDROCK_ARN}:provisioned-model/pt9abc",
                "modelArn": NOVA,
                "foundationModelArn": NOVA,
                "status": "InService",
            }
        ],
        invocation_log_group="/aws/bedrock/invocations",
        graph=[
            {
                "ReferenceId": 0,
                "Name": "chat-api",
                "Type": "AWS::Lambda::Function",
                "Edges": [{"ReferenceId": 1}, {"ReferenceId": 2}],
            },
            {"ReferenceId": 1, "Name": "chat-sessions", "Type": "AWS::DynamoDB::Table"},
            {"ReferenceId": 2, "Name": "api.partner.example", "Type": "remote"},
        ],
    )


def test_bedrock_lists_and_the_service_graph_are_read_where_an_endpoint_offers_them(
    aws, moto_url, monkeypatch
):
    """Against a fake of the APIs the emulator lacks: guardrail versions, what an inference
    profile or provisioned throughput stands for, and dependencies from the X-Ray graph."""
    role = aws.client("iam").create_role(RoleName="chat", AssumeRolePolicyDocument="{}")
    aws.client("lambda").create_function(
        FunctionName="chat-api",
        Runtime="python3.12",
        Role=role["Role"]["Arn"],
        Handler="h.h",
        Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18},
        Environment={
            "Variables": {
                "GUARDRAIL_ID": "gr1abc",
                "MODEL_ARN": f"{BEDROCK_ARN}:application-inference-profile/appprof1",
                "BATCH_MODEL": f"{BEDROCK_ARN}:provisioned-model/pt9abc",
            }
        },
        Tags={"service": "chat"},
    )
    calls: list[str] = []
    with serve(fake_bedrock(_bedrock_estate(), calls)) as fake:
        monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
        monkeypatch.setenv("AWS_ENDPOINT_URL_BEDROCK", fake)
        monkeypatch.setenv("AWS_ENDPOINT_URL_XRAY", fake)
        clients = discovery_clients("us-east-1", session=emulator_session("us-east-1"))
        inventory = read_inventory(clients)
    assert calls.count("/guardrails") == 2, "paged"
    assert calls.count("/ServiceGraph") == 2, "paged"
    apis = {n.api for n in inventory.notes}
    assert not apis & {"bedrock:ListGuardrails", "xray:GetServiceGraph"}
    text = propose(inventory).yaml
    chat = yaml.safe_load(text)["services"][0]
    assert chat["bedrock"]["guardrails"] == [{"id": "gr1abc", "version": "2"}]
    assert "# env GUARDRAIL_ID of chat-api; highest listed version" in text
    assert chat["bedrock"]["model_ids"] == ["pt9abc", "appprof1"]
    assert f"routes to {HAIKU}" in text
    assert "provisioned throughput steady of amazon.nova-pro-v1:0" in text
    assert chat["dependencies"] == ["dynamodb:chat-sessions", "http:api.partner.example"]
    assert "# X-Ray: chat-api calls it" in text
    assert chat["bedrock"]["invocation_log_group"] == "/aws/bedrock/invocations"
    loose = yaml.safe_load(text)["unattributed"]["resources"]
    assert loose == ["guardrail gr9zzz (unused)"]
