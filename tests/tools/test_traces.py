"""X-Ray at volume and in Lambda's shapes.

The Lambda fixture is written in the shape of real traces (an `AWS::Lambda` service
segment, the `AWS::Lambda::Function` segment with Initialization, Invocation and Overhead,
SDK calls under Invocation, an inferred DynamoDB segment); the filtered and sampled
reads go through the fake X-Ray endpoint, which runs filter expressions as AWS does.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import timedelta

import pytest

from bot.sim.emulator import emulator_session
from bot.sim.expand import expand
from bot.sim.fakes.http import serve
from bot.sim.fakes.xray import FakeXRay, compile_expression
from bot.sim.scenario import parse_scenario
from bot.sim.seeding import seed_traces
from tests.conftest import T0
from tests.factories import base_scenario
from tools.aws import AwsClients
from tools.base import TimeRange
from tools.traces import TracesTool, segment_changes

ONSET = T0 - timedelta(minutes=10)
WINDOW = TimeRange(
    start=T0 - timedelta(minutes=60), end=T0 + timedelta(minutes=5), onset=ONSET, t0=T0
)
ARN = "arn:aws:lambda:us-east-1:111122223333:function:summarizer-api"


def lambda_trace(at: float, init: float | None, invoke: float, attempt: int = 1) -> list[dict]:
    """One invocation as X-Ray returns it for a Lambda function with active tracing."""
    trace_id = f"1-{int(at):08x}-52a0752f44658e0f7314fd12"
    parts = []
    cursor = at + 0.001
    if init is not None:
        parts.append(
            {"id": "a1", "name": "Initialization", "start_time": cursor, "end_time": cursor + init}
        )
        cursor += init
    parts.append(
        {
            "id": "a2",
            "name": "Invocation",
            "start_time": cursor,
            "end_time": cursor + invoke,
            "aws": {"function_arn": ARN},
            "subsegments": [
                {
                    "id": "b65ecbebf0c80be7",
                    "name": "DynamoDB",
                    "namespace": "aws",
                    "start_time": cursor + 0.01,
                    "end_time": cursor + 0.03,
                    "aws": {"operation": "GetItem", "table_name": "summaries"},
                    "http": {"response": {"status": 200}},
                },
                {
                    "id": "c1",
                    "name": "BedrockRuntime",
                    "namespace": "aws",
                    "start_time": cursor + 0.04,
                    "end_time": cursor + invoke - 0.01,
                    "aws": {"operation": "InvokeModel"},
                },
            ],
        }
    )
    end = cursor + invoke
    parts.append({"id": "a3", "name": "Overhead", "start_time": end, "end_time": end + 0.01})
    service = {
        "id": "5f8d1a23aa89bd66",
        "name": "summarizer-api",
        "trace_id": trace_id,
        "start_time": at,
        "end_time": end + 0.02,
        "origin": "AWS::Lambda",
        "resource_arn": ARN,
        "http": {"response": {"status": 200}},
        "subsegments": [
            {
                "id": f"att{attempt}",
                "name": f"Attempt #{attempt}",
                "start_time": at,
                "end_time": end,
            }
        ],
    }
    function = {
        "id": "03e476fc59b9eecd",
        "name": "summarizer-api",
        "trace_id": trace_id,
        "parent_id": "5f8d1a23aa89bd66",
        "start_time": at + 0.001,
        "end_time": end + 0.01,
        "origin": "AWS::Lambda::Function",
        "aws": {"function_arn": ARN, "resource_names": ["summarizer-api"]},
        "subsegments": parts,
    }
    inferred = {
        "id": "3dd87a2724860b51",
        "name": "DynamoDB",
        "trace_id": trace_id,
        "parent_id": "b65ecbebf0c80be7",
        "start_time": cursor + 0.01,
        "end_time": cursor + 0.03,
        "inferred": True,
        "origin": "AWS::DynamoDB::Table",
        "aws": {"operation": "GetItem"},
    }
    return [service, function, inferred]


def test_lambdas_own_segments_are_named_for_what_they_are():
    before = (ONSET - timedelta(minutes=20)).timestamp()
    after = (ONSET + timedelta(minutes=2)).timestamp()
    documents = [d for i in range(10) for d in lambda_trace(before + i, None, 0.8)]
    documents += [d for i in range(10) for d in lambda_trace(after + i, 6.5, 0.8, attempt=2)]
    changes = {(c.name, c.kind): c for c in segment_changes(documents, WINDOW)}
    assert changes[("Initialization", "cold_start")].recent.count == 10
    assert changes[("Invocation", "handler")].recent.count == 10
    assert changes[("Overhead", "extension")].baseline.count == 10
    assert ("Attempt #2", "retry") in changes
    assert changes[("summarizer-api", "lambda_service")].recent.mean_ms > 7000
    assert ("summarizer-api", "function") in changes
    # The inferred DynamoDB segment mirrors the call under Invocation: counted once.
    assert [c.kind for c in changes.values() if c.name == "DynamoDB"] == ["call"]
    assert changes[("DynamoDB", "call")].baseline.count == 10
    line = changes[("Initialization", "cold_start")].line()
    assert line.startswith("Initialization (cold start): 6.5s avg since onset (no trace of it")


def test_an_empty_baseline_never_reads_as_a_latency_jump():
    after = (ONSET + timedelta(minutes=2)).timestamp()
    documents = [d for i in range(5) for d in lambda_trace(after + i, None, 2.1)]
    lines = [c.line() for c in segment_changes(documents, WINDOW)]
    assert not any("0ms ->" in line for line in lines)
    assert any("since onset (no trace of it before)" in line for line in lines)


def test_the_fake_runs_filter_expressions_as_documented():
    class Trace:
        fault, error, throttle, response = False, True, False, 7.5
        start, end, services = 0.0, 8.0, {"quote-api", "DynamoDB"}

    assert compile_expression('service("quote-api") AND (fault OR error)')(Trace)
    assert compile_expression("responsetime > 5 AND NOT throttle")(Trace)
    assert not compile_expression('service("other") OR ok')(Trace)
    with pytest.raises(ValueError, match="parse"):
        compile_expression("annotation.user = 'x' ~")


@pytest.fixture
def xray():
    fake = FakeXRay(page_size=50, traces_per_page=2, unprocessed_every=4)
    with serve(fake.handler) as url:
        yield fake, AwsClients("us-east-1", url, emulator_session("us-east-1"))


def seeded(aws, rate: str = "120/m"):
    data = base_scenario()
    data["traces"][0]["rate"] = rate
    data["traces"][0]["lambda"] = {"cold_start": 0.02, "init": "500ms"}
    data["traces"][0]["phases"] = [
        {"from": "-10m", "root": {"fault": 0.3, "http_status": 502, "message": "KeyError: 'x'"}}
    ]
    telemetry = expand(parse_scenario(data, "x"), T0)
    seed_traces(aws, telemetry)
    roots = [json.loads(d) for d in telemetry.trace_documents]
    return [d for d in roots if d.get("origin") == "AWS::Lambda"]


def run(aws):
    return TracesTool(aws)(
        {
            "start": WINDOW.start,
            "end": WINDOW.end,
            "onset": ONSET,
            "t0": T0,
            "services": ["quote-api"],
        }
    )


def test_failing_traces_come_through_a_filter_and_the_rest_from_a_sample(xray):
    fake, aws = xray
    traces = seeded(aws)
    failed = sum(1 for d in traces if d.get("fault") and d["start_time"] >= ONSET.timestamp())
    result = run(aws)
    counts = result.data["counts"]
    assert counts["recent_failed"] == failed and counts["baseline_failed"] == 0
    assert abs(counts["baseline"] + counts["recent"] - len(traces)) <= 0.15 * len(traces)
    summaries = [c for c in fake.calls if c["operation"] == "GetTraceSummaries"]
    expressions = {c.get("FilterExpression") for c in summaries}
    assert 'service("quote-api")' in expressions
    assert any(
        e and e.startswith('(service("quote-api")) AND (fault OR error OR throttle OR ')
        for e in expressions
    )
    assert any(
        c.get("Sampling") and c["SamplingStrategy"]["Name"] == "FixedRate" for c in summaries
    )
    assert any(c.get("NextToken") for c in summaries)  # pages followed
    [read] = result.data["sampling"]
    assert f"({failed} failed)" in read and "fixed-rate sample" in read
    # Lambda's own parts are in the result, none as a dependency call.
    kinds = {c.kind for c in result.data["segments"]}
    assert {"lambda_service", "function", "handler", "extension"} <= kinds


def test_batch_get_traces_asks_five_at_a_time_again_for_the_unprocessed(xray):
    fake, aws = xray
    seeded(aws, rate="30/m")
    result = run(aws)
    batches = [c for c in fake.calls if c["operation"] == "BatchGetTraces"]
    assert batches and all(len(c["TraceIds"]) <= 5 for c in batches)
    asked = Counter(i for c in batches if not c.get("NextToken") for i in c["TraceIds"])
    assert any(n > 1 for n in asked.values())  # unprocessed ids were asked again
    assert any(c.get("NextToken") for c in batches)  # pages of a batch followed
    assert result.data["counts"]["sampled"] == len(asked)  # every id answered in the end
    assert not any("unprocessed" in note for note in result.notes)


def test_an_endpoint_refusing_expressions_is_read_unfiltered_and_says_so(aws):
    seeded(aws, rate="10/m")  # moto: FilterExpression is "not implemented"
    result = run(aws)
    [read] = result.data["sampling"]
    assert "read unfiltered (filter expressions refused here)" in read
    assert aws.capabilities["xray_filters"] is False
    assert result.data["counts"]["recent_failed"] > 0
