import json
from datetime import timedelta

from bot.sim.expand import expand
from bot.sim.scenario import parse_scenario
from bot.sim.seeding import seed_traces
from tests.conftest import T0
from tests.factories import base_scenario
from tools.base import TimeRange
from tools.guardrails import read_invocation_records
from tools.traces import TracesTool, trace_time

ONSET = T0 - timedelta(minutes=10)
WINDOW = TimeRange(
    start=T0 - timedelta(minutes=60), end=T0 + timedelta(minutes=5), onset=ONSET, t0=T0
)


def test_trace_ids_carry_their_start_time():
    assert trace_time("1-6744a6c0-0123456789abcdef01234567").year == 2024
    assert trace_time("garbage") is None


def test_failing_and_slower_segments_are_reported_by_service_and_operation(aws):
    data = base_scenario()
    data["traces"][0]["phases"] = [
        {
            "from": "-10m",
            "spans": {
                "GetItem": {
                    "duration": "2500ms",
                    "fault": 0.5,
                    "http_status": 500,
                    "message": "InternalServerError: table unavailable",
                }
            },
        }
    ]
    telemetry = expand(parse_scenario(data, "x"), T0)
    seed_traces(aws, telemetry)
    result = TracesTool(aws)(
        {
            "start": WINDOW.start,
            "end": WINDOW.end,
            "onset": ONSET,
            "t0": T0,
            "services": ["quote-api"],
        }
    )
    counts = result.data["counts"]
    # a trace still running at the end of the window may be left out by the endpoint
    assert counts["baseline"] == 500 and 148 <= counts["recent"] <= 150
    assert counts["baseline_failed"] == 0
    assert counts["recent_failed"] > 40
    segment_lines = [line for line in result.text.splitlines() if "DynamoDB.GetItem" in line]
    assert segment_lines, result.text
    line = segment_lines[0]
    assert (
        "-> 2.5s avg" in line
        and "HTTP 500" in line
        and "InternalServerError: table unavailable" in line
    )
    assert result.text.index("DynamoDB.GetItem") < result.text.index("bedrock-runtime.InvokeModel")


def invocation_record(side_key: str | None, kind: str = "PROMPT_ATTACK", tokens: int = 1000) -> str:
    output: dict = {"outputTokenCount": 100}
    if side_key:
        output["outputBodyJson"] = {
            "stopReason": "guardrail_intervened",
            "trace": {
                "guardrail": {
                    side_key: {
                        "gr1": {"contentPolicy": {"filters": [{"type": kind, "action": "BLOCKED"}]}}
                    }
                }
            },
        }
    return json.dumps(
        {
            "schemaType": "ModelInvocationLog",
            "identity": {"arn": "arn:aws:sts::1:assumed-role/app/x"},
            "input": {"inputTokenCount": tokens},
            "output": output,
        }
    )


def test_invocation_records_tell_input_from_output_interventions():
    before = int((ONSET - timedelta(minutes=5)).timestamp() * 1000)
    after = int((ONSET + timedelta(minutes=2)).timestamp() * 1000)
    events = [
        (before, invocation_record(None)),
        (before, invocation_record("outputAssessment", "VIOLENCE")),
    ]
    events += [(after, invocation_record("inputAssessment", tokens=3000)) for _ in range(6)]
    events += [(after, "not json"), (after, "[1, 2]")]
    stats = read_invocation_records(events, WINDOW)
    assert stats.intervened[(True, "Input", "ContentPolicy", "PROMPT_ATTACK")] == 6
    assert stats.intervened[(False, "Output", "ContentPolicy", "VIOLENCE")] == 1
    assert stats.stop_reasons[(True, "guardrail_intervened")] == 6
    assert stats.input_tokens[True] == [3000] * 6
    assert stats.records[True] == 6  # the non-JSON lines are skipped, not fatal
