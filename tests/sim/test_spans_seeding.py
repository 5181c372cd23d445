"""The bundled OTel agent scenarios seed their spans where Transaction Search keeps them.

Each is replayed into the loopback moto server the way `simulate` and `investigate
--offline` do it, and the events are read back from the spans log group with
FilterLogEvents, as a reader of `aws/spans` would see them.
"""

import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from bot.config import BUNDLED_SCENARIOS
from bot.sim.agentcore import runtime_arn
from bot.sim.emulator import emulator_session
from bot.sim.replay import replay
from bot.sim.scenario import load_scenario
from tools.aws import AwsClients

AGENT_SCENARIOS = {
    "dependency-failure-agent-tool-timeouts-spans-only.yaml": "dependency_failure",
    "token-cost-spike-agent-runaway-tool-loop-spans.yaml": "token_cost_spike",
    "prompt-regression-agent-model-switch-max-tokens-spans.yaml": "prompt_regression",
    "model-throttling-agent-chat-spans-shared-quota.yaml": "model_throttling",
    "compute-saturation-agentcore-runtime-session-throttles.yaml": "compute_saturation",
}


def read_back(aws: AwsClients, group: str) -> list[dict[str, Any]]:
    """Every event of the group through FilterLogEvents, page by page."""
    client = aws.client("logs")
    found: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"logGroupName": group, "limit": 10_000}
    while True:
        page = client.filter_log_events(**kwargs)
        found += [json.loads(event["message"]) for event in page["events"]]
        token = page.get("nextToken")
        if not token or not page["events"]:
            return found
        kwargs["nextToken"] = token


def seeded(name: str, moto_url: str, settings) -> tuple[Any, list[dict[str, Any]]]:
    scenario = load_scenario(Path(BUNDLED_SCENARIOS) / name)
    aws = AwsClients(scenario.region, moto_url, emulator_session(scenario.region))
    played = replay(scenario, aws, settings)
    return played, read_back(aws, scenario.service.spans_log_group)


def chat_steps(spans: list[dict[str, Any]]) -> dict[str, int]:
    return Counter(
        span["traceId"]
        for span in spans
        if span["attributes"].get("gen_ai.operation.name") == "chat"
    )


def test_the_five_agent_scenarios_are_bundled_with_their_categories():
    for name, category in AGENT_SCENARIOS.items():
        scenario = load_scenario(Path(BUNDLED_SCENARIOS) / name)
        assert scenario.version == "1.1" and scenario.spans
        assert scenario.expected is not None and scenario.expected.category == category


@pytest.fixture
def fresh(aws):  # the shared moto server, emptied before the test
    return aws


def test_tool_timeouts_only_in_spans_and_one_percent_in_xray(fresh, moto_url, settings):
    played, spans = seeded(
        "dependency-failure-agent-tool-timeouts-spans-only.yaml", moto_url, settings
    )
    expected = sum(len(stream.events) for stream in played.telemetry.spans)
    assert len(spans) == expected > 4000
    traces = {span["traceId"] for span in spans}
    roots = [s for s in spans if "parentSpanId" not in s]
    assert len(roots) == len(traces) == 780  # 12 turns a minute over 65 minutes
    for span in spans:
        assert set(span) >= {
            "resource",
            "scope",
            "traceId",
            "spanId",
            "name",
            "kind",
            "startTimeUnixNano",
            "endTimeUnixNano",
            "durationNano",
            "attributes",
            "status",
        }
        assert span["resource"]["attributes"]["service.name"] == "returns-agent"
    failed = [s for s in spans if s["status"]["code"] == "ERROR"]
    assert failed and {s["name"] for s in failed} == {"execute_tool lookup_order"}
    assert {s["attributes"]["error.type"] for s in failed} == {"TimeoutError"}
    assert all(s["events"][0]["attributes"]["exception.type"] == "TimeoutError" for s in failed)
    # X-Ray trace summaries hold about 1% of the turns; the logs say nothing of the tool.
    indexed = {json.loads(doc)["trace_id"] for doc in played.telemetry.trace_documents}
    assert 0.005 * len(traces) <= len(indexed) <= 0.015 * len(traces)
    assert not any("Timeout" in doc for doc in played.telemetry.trace_documents)
    lines = [e.message for stream in played.telemetry.logs for e in stream.events]
    assert not any("lookup_order" in line or "Timeout" in line for line in lines)
    summaries = played.aws.client("xray").get_trace_summaries(
        StartTime=played.telemetry.start, EndTime=played.telemetry.end
    )["TraceSummaries"]
    assert len(summaries) == len(indexed)


def test_runaway_loop_steps_per_turn_rise_with_flat_turns(fresh, moto_url, settings):
    played, spans = seeded(
        "token-cost-spike-agent-runaway-tool-loop-spans.yaml", moto_url, settings
    )
    t0_ns = int(played.telemetry.t0.timestamp() * 1e9)
    onset_ns = t0_ns - 18 * 60 * 10**9
    roots = {s["traceId"]: s["startTimeUnixNano"] for s in spans if "parentSpanId" not in s}
    steps = chat_steps(spans)
    before = [steps[t] for t, at in roots.items() if at < onset_ns]
    after = [steps[t] for t, at in roots.items() if at >= onset_ns]
    assert set(before) == {3} and set(after) == {10}
    # flat traffic: turns per minute the same before and after
    assert len(before) / 42 == pytest.approx(len(after) / 23, rel=0.1)


def test_model_switch_shows_in_span_names_and_finish_reasons(fresh, moto_url, settings):
    _, spans = seeded(
        "prompt-regression-agent-model-switch-max-tokens-spans.yaml", moto_url, settings
    )
    chats = [s for s in spans if s["attributes"].get("gen_ai.operation.name") == "chat"]
    by_model = Counter(
        (
            s["attributes"]["gen_ai.request.model"],
            s["attributes"]["gen_ai.response.finish_reasons"][0],
        )
        for s in chats
    )
    assert by_model[("us.anthropic.claude-3-5-haiku-20241022-v1:0", "end_turn")] > 0
    assert by_model[("us.anthropic.claude-3-5-haiku-20241022-v1:0", "max_tokens")] == 0
    nova = [s for s in chats if s["name"] == "chat us.amazon.nova-lite-v1:0"]
    capped = [
        s for s in nova if s["attributes"]["gen_ai.response.finish_reasons"] == ["max_tokens"]
    ]
    assert 0.65 < len(capped) / len(nova) < 0.95
    assert all(s["attributes"]["gen_ai.request.max_tokens"] == 512 for s in nova)
    assert all(s["attributes"]["gen_ai.usage.output_tokens"] <= 512 for s in nova)


def test_chat_throttles_fail_the_turn_and_report_no_usage(fresh, moto_url, settings):
    _, spans = seeded("model-throttling-agent-chat-spans-shared-quota.yaml", moto_url, settings)
    throttled = [s for s in spans if s["attributes"].get("error.type") == "ThrottlingException"]
    chats = [s for s in throttled if s["kind"] == "CLIENT"]
    assert chats and all("gen_ai.usage.input_tokens" not in s["attributes"] for s in chats)
    assert all("ConverseStream" in s["status"]["message"] for s in chats)
    roots = {s["traceId"] for s in throttled if "parentSpanId" not in s}
    assert roots == {s["traceId"] for s in chats}


def test_agentcore_alarm_and_metrics_carry_the_runtime_arn(fresh, moto_url, settings):
    played, spans = seeded(
        "compute-saturation-agentcore-runtime-session-throttles.yaml", moto_url, settings
    )
    arn = runtime_arn("us-west-2", "735190284416", "claims_intake-Qw7Er8Ty9U")
    assert played.alarm.namespace == "AWS/Bedrock-AgentCore"
    assert played.alarm.dimensions == {
        "Resource": arn,
        "Operation": "InvokeAgentRuntime",
        "Name": "claims_intake::DEFAULT",
    }
    assert played.service is not None and played.service.name == "claims-intake-agent"
    listed = played.aws.client("cloudwatch").list_metrics(
        Namespace="AWS/Bedrock-AgentCore", MetricName="Throttles"
    )["Metrics"]
    assert {d["Name"]: d["Value"] for d in listed[0]["Dimensions"]}["Resource"] == arn
    assert spans and {s["resource"]["attributes"]["service.name"] for s in spans} == {
        "claims_intake.DEFAULT"
    }
    assert not any(s["status"]["code"] == "ERROR" for s in spans)
    groups = played.aws.client("logs").describe_log_groups(
        logGroupNamePrefix="/aws/bedrock-agentcore/runtimes/"
    )["logGroups"]
    assert [g["logGroupName"] for g in groups] == [
        "/aws/bedrock-agentcore/runtimes/claims_intake-Qw7Er8Ty9U-DEFAULT"
    ]
