"""Guardrail findings in the three shapes AWS writes them, and invocation-log records.

Fixtures are written here in the shapes of the recorded responses in
`../shared/realdata/` (Converse `trace.guardrail.outputAssessments` as a map of
guardrail id to a list; InvokeModel `amazon-bedrock-trace` with `input`/`outputs` and
`amazon-bedrock-guardrailAction`; ApplyGuardrail `assessments`, `action`,
`actionReason`); the last tests read the real recordings when they are there.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.sim.expand import LogEvent
from bot.sim.seeding import put_events
from tests.conftest import T0
from tools.base import TimeRange
from tools.guardrail_records import Finding, findings, read_invocation_records
from tools.guardrails import GuardrailsTool

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
ONSET = T0 - timedelta(minutes=10)
WINDOW = TimeRange(
    start=T0 - timedelta(minutes=60), end=T0 + timedelta(minutes=5), onset=ONSET, t0=T0
)
GID = "gr7k2m9q1x4z"
METRICS = {
    "invocationMetrics": {
        "guardrailProcessingLatency": 250,
        "usage": {"topicPolicyUnits": 1, "contentPolicyUnits": 1},
        "guardrailCoverage": {"textCharacters": {"guarded": 65, "total": 65}},
    }
}

CONVERSE = {
    "output": {"message": {"role": "assistant", "content": [{"text": "Sorry, I can't."}]}},
    "stopReason": "guardrail_intervened",
    "trace": {
        "guardrail": {
            "actionReason": "Guardrail blocked.",
            "inputAssessment": {GID: dict(METRICS)},
            "outputAssessments": {
                GID: [
                    {
                        **METRICS,
                        "sensitiveInformationPolicy": {
                            "piiEntities": [
                                {
                                    "action": "ANONYMIZED",
                                    "detected": True,
                                    "match": "J. Doe",
                                    "type": "NAME",
                                },
                                {
                                    "action": "ANONYMIZED",
                                    "detected": True,
                                    "match": "555-0100",
                                    "type": "PHONE",
                                },
                            ]
                        },
                    }
                ]
            },
        }
    },
    "usage": {"inputTokens": 17, "outputTokens": 17, "totalTokens": 34},
}
INVOKE_MODEL = {
    "type": "message",
    "role": "assistant",
    "content": [{"type": "text", "text": "Sorry, please ask about something else."}],
    "amazon-bedrock-trace": {
        "guardrail": {
            "input": {GID: dict(METRICS)},
            "outputs": [
                {
                    GID: {
                        **METRICS,
                        "topicPolicy": {
                            "topics": [
                                {
                                    "name": "Investment advice",
                                    "type": "DENY",
                                    "action": "BLOCKED",
                                    "detected": True,
                                }
                            ]
                        },
                        "contextualGroundingPolicy": {
                            "filters": [
                                {
                                    "type": "GROUNDING",
                                    "threshold": 0.75,
                                    "score": 0.21,
                                    "action": "BLOCKED",
                                    "detected": True,
                                },
                                {
                                    "type": "RELEVANCE",
                                    "threshold": 0.5,
                                    "score": 0.9,
                                    "action": "NONE",
                                    "detected": False,
                                },
                            ]
                        },
                    }
                }
            ],
            "actionReason": "Guardrail blocked.",
        }
    },
    "amazon-bedrock-guardrailAction": "INTERVENED",
}
APPLY_GUARDRAIL_LOGGED = {
    "level": "WARN",
    "message": "guardrail intervened on the answer",
    "guardrailRequest": {"source": "OUTPUT", "guardrailIdentifier": GID},
    "guardrailResponse": {
        "usage": {"contentPolicyUnits": 1},
        "action": "GUARDRAIL_INTERVENED",
        "actionReason": "Guardrail blocked.",
        "outputs": [{"text": "Sorry."}],
        "assessments": [
            {
                "contentPolicy": {
                    "filters": [
                        {
                            "type": "VIOLENCE",
                            "confidence": "HIGH",
                            "filterStrength": "MEDIUM",
                            "action": "BLOCKED",
                            "detected": True,
                        },
                        {
                            "type": "INSULTS",
                            "confidence": "LOW",
                            "filterStrength": "HIGH",
                            "action": "NONE",
                            "detected": False,
                        },
                    ]
                },
                "wordPolicy": {"customWords": [{"match": "competitor-x", "action": "BLOCKED"}]},
            }
        ],
    },
}


def test_converse_output_assessments_are_found_on_the_output_side():
    found, action = findings(CONVERSE)
    assert action == "guardrail_intervened"
    assert Finding("Output", "SensitiveInformationPolicy", "NAME", "ANONYMIZED") in found
    assert Finding("Output", "SensitiveInformationPolicy", "PHONE", "ANONYMIZED") in found
    assert not [f for f in found if f.side == "Input"]  # metrics alone are not findings


def test_invoke_model_trace_names_the_topic_and_the_grounding_score():
    found, action = findings(INVOKE_MODEL)
    assert action == "INTERVENED"
    assert Finding("Output", "TopicPolicy", "Investment advice", "BLOCKED") in found
    grounding = [f for f in found if f.policy == "ContextualGroundingPolicy"]
    assert grounding == [
        Finding(
            "Output",
            "ContextualGroundingPolicy",
            "GROUNDING",
            "score 0.21 < threshold 0.75, BLOCKED",
        )
    ]


def test_apply_guardrail_takes_its_side_from_the_request_source():
    found, action = findings(APPLY_GUARDRAIL_LOGGED)
    assert action == "GUARDRAIL_INTERVENED"
    assert found == [
        Finding("Output", "ContentPolicy", "VIOLENCE", "confidence HIGH, strength MEDIUM, BLOCKED"),
        Finding("Output", "WordPolicy", "competitor-x", "BLOCKED"),
    ]


def record(body: dict, tokens: bool, operation: str = "Converse", **extra) -> str:
    found = {
        "schemaType": "ModelInvocationLog",
        "schemaVersion": "1.0",
        "timestamp": "2026-11-20T11:55:00Z",
        "identity": {"arn": "arn:aws:sts::111122223333:assumed-role/app/summarizer"},
        "operation": operation,
        "modelId": "anthropic.claude-3-5-haiku-20241022-v1:0",
        "input": {"inputContentType": "application/json", "inputBodyJson": {"messages": []}},
        "output": {"outputContentType": "application/json", "outputBodyJson": body},
        **extra,
    }
    if tokens:
        found["input"]["inputTokenCount"] = 812
        found["output"]["outputTokenCount"] = 190
    return json.dumps(found)


def ms(minutes: float) -> int:
    return int((T0 + timedelta(minutes=minutes)).timestamp() * 1000)


def invocation_events() -> list[tuple[int, str]]:
    normal = {"output": {"message": {"content": [{"text": "ok"}]}}, "stopReason": "end_turn"}
    image = {
        "messages": [{"role": "user", "content": [{"image": {"format": "png", "source": {}}}]}]
    }
    events = [(ms(-40 + i), record(normal, tokens=True)) for i in range(20)]
    events += [(ms(-8 + i * 0.2), record(CONVERSE, tokens=False)) for i in range(12)]
    events += [(ms(-7 + i * 0.2), record(INVOKE_MODEL, False, "InvokeModel")) for i in range(6)]
    failed = json.dumps(
        {
            "schemaType": "ModelInvocationLog",
            "operation": "Converse",
            "input": {},
            "output": {},
            "errorCode": "ThrottlingException",
        }
    )
    events += [(ms(-5), "\ufeff" + failed), (ms(-4), failed)]
    with_image = json.loads(record(normal, tokens=True))
    with_image["input"]["inputBodyJson"] = image
    events += [(ms(-3), json.dumps(with_image))]
    return events


def test_invocation_records_say_side_type_errors_tokens_and_modality():
    stats = read_invocation_records(invocation_events(), WINDOW)
    assert stats.intervened[(True, "Output", "SensitiveInformationPolicy", "NAME")] == 12
    assert stats.intervened[(True, "Output", "TopicPolicy", "Investment advice")] == 6
    assert stats.without_tokens[True] == 12 + 6 + 2  # intervened and failed: no token counts
    assert stats.errors[(True, "ThrottlingException")] == 2  # the byte-order mark is read past
    assert stats.modalities[(True, "image")] == 1
    assert stats.input_tokens[False] == [812] * 20
    assert stats.actions[(True, "INTERVENED")] == 6


def test_the_tool_reports_each_output_intervention_with_its_type_and_side(aws):
    put_events(
        aws,
        "/aws/bedrock/modelinvocations",
        "aws/bedrock/modelinvocations",
        [LogEvent(t, m) for t, m in invocation_events()],
    )
    result = GuardrailsTool(aws)(
        {
            "invocation_log_group": "/aws/bedrock/modelinvocations",
            "start": WINDOW.start,
            "end": WINDOW.end,
            "onset": ONSET,
            "t0": T0,
        }
    )
    text = result.text
    assert "invocation log: NAME (SensitiveInformationPolicy, Output, ANONYMIZED)" in text
    assert "invocation log: Investment advice (TopicPolicy, Output, BLOCKED)" in text
    assert "GROUNDING (ContextualGroundingPolicy, Output, score 0.21 < threshold 0.75" in text
    assert "invocation log errorCode ThrottlingException: 0 before, 2 since onset" in text
    assert "records without token counts, as intervened requests have none" in text
    assert "invocation log image records: 0 before, 1 since onset" in text


def _cassette_body(name: str) -> dict:
    cassette = yaml.safe_load((REALDATA / "logs_raw" / name).read_text())
    return json.loads(cassette["interactions"][0]["response"]["body"]["string"])


@pytest.mark.skipif(not REALDATA.exists(), reason="../shared/realdata is not here")
def test_the_recorded_converse_and_invoke_model_responses_are_read():
    converse, _ = findings(_cassette_body("openllmetry_cassette_guardrail_converse.yaml"))
    assert Finding("Output", "SensitiveInformationPolicy", "ADDRESS", "ANONYMIZED") in converse
    invoke, action = findings(_cassette_body("openllmetry_cassette_guardrail_invoke.yaml"))
    assert action == "INTERVENED"
    assert [f for f in invoke if f.side == "Output" and f.kind == "Account Number"]


@pytest.mark.skipif(not REALDATA.exists(), reason="../shared/realdata is not here")
def test_the_real_invocation_log_export_is_read():
    raw = REALDATA / "logs_raw" / "zainzia_bedrock_invocation_logs_insights_export.json"
    rows = json.loads(raw.read_text(encoding="utf-8-sig"))
    events = [(ms(-1), row["@message"]) for row in rows]
    stats = read_invocation_records(events, WINDOW)
    assert stats.intervened[(True, "Input", "ContentPolicy", "MISCONDUCT")] >= 1
    assert stats.without_tokens[True] == 3 and len(stats.input_tokens[True]) == 2


_JSON = st.recursive(
    st.none() | st.booleans() | st.floats(allow_nan=False) | st.integers() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                [
                    "trace",
                    "guardrail",
                    "input",
                    "outputs",
                    "outputAssessments",
                    "inputAssessment",
                    "topicPolicy",
                    "topics",
                    "contentPolicy",
                    "filters",
                    "assessments",
                    "action",
                    "source",
                    "score",
                    "threshold",
                    "stopReason",
                    "inputTokenCount",
                    "errorCode",
                    "amazon-bedrock-trace",
                    "name",
                    "type",
                    "detected",
                    "image",
                ]
            )
            | st.text(max_size=6),
            inner,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@given(_JSON)
def test_any_json_in_a_record_is_read_without_failing(value):
    findings(value)
    read_invocation_records(
        [(ms(-1), json.dumps(value)), (ms(1), json.dumps({"x": value}))], WINDOW
    )
