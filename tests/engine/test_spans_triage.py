"""Triage from OpenTelemetry spans and AgentCore metrics: an agent's story told only in
`aws/spans` (and AgentCore's own series) reaches the right category, with the span
attributes and numbers quoted. Each test seeds spans through the fake Logs endpoint
(Logs Insights) behind one loopback endpoint with moto for metrics."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.config import BUNDLED_RUNBOOKS
from bot.engine.catalog import Catalog
from bot.engine.evidence import gather, service_metrics
from bot.engine.investigate import investigate
from bot.engine.runbooks import load_runbooks
from bot.models import Alarm, Category, ServiceEntry
from bot.sim.emulator import emulator_session
from bot.sim.fakes.http import serve
from bot.sim.fakes.logs import FakeLogs
from bot.sim.fakes.router import aws_router
from bot.sim.fakes.xray import FakeXRay
from bot.sim.seeding import put_events
from tests.conftest import T0
from tests.fixtures.spans import MODEL, Phase, agent_turns
from tools.aws import AwsClients

RUNBOOKS = load_runbooks(BUNDLED_RUNBOOKS)
ONSET = T0 - timedelta(minutes=10)
RUNTIME = "support_agent-Xy12AbCd34"
RUNTIME_ARN = f"arn:aws:bedrock-agentcore:us-east-1:111122223333:runtime/{RUNTIME}"
SERVICE = ServiceEntry(name="support-agent", agent_runtimes=[RUNTIME])
NEW_MODEL = "us.anthropic.claude-haiku-4-5-20251001-v1:0"


def agent_alarm(metric: str = "Latency", statistic: str = "Average") -> Alarm:
    """An alarm on the runtime's own metric; ten evaluation periods put the onset at
    T0-10m when the series holds nothing to find it from."""
    return Alarm(
        name="agent-latency",
        namespace="AWS/Bedrock-AgentCore",
        metric=metric,
        dimensions={"Resource": RUNTIME_ARN, "Name": "support_agent::DEFAULT"},
        statistic=statistic,
        evaluation_periods=10,
        threshold=1,
        changed_at=T0,
    )


@pytest.fixture
def endpoint(moto_url, aws):
    logs, xray = FakeLogs(), FakeXRay(destination="CloudWatchLogs")
    with serve(aws_router(moto_url, logs.handler, xray.handler)) as url:
        yield AwsClients("us-east-1", url, emulator_session("us-east-1"))


def seed_turns(aws, phases, per_minute=6.0):
    events = agent_turns(T0 - timedelta(minutes=90), T0 + timedelta(minutes=5), per_minute, phases)
    put_events(aws, "aws/spans", "otel", events)


def top_of(aws, alarm=None):
    found, _ = investigate(
        aws, alarm or agent_alarm(), SERVICE, RUNBOOKS, now=T0 + timedelta(minutes=5)
    )
    return found.top, found


def test_more_steps_per_turn_at_flat_traffic_is_a_runaway_loop(endpoint):
    seed_turns(endpoint, [(ONSET, Phase(steps=9))])
    top, _ = top_of(endpoint)
    assert top.category is Category.TOKEN_COST_SPIKE
    line = top.evidence[0]
    assert "agent steps per turn (chat spans per invoke_agent trace) p50 2 -> 9" in line
    assert "from T0-10m" in line and "turns (invoke_agent)" in line


def test_one_tool_failing_is_a_dependency_failure_naming_tool_and_error_type(endpoint):
    seed_turns(endpoint, [(ONSET, Phase(tool_error=0.6, tool_error_type="ConnectTimeout"))])
    top, _ = top_of(endpoint)
    assert top.category is Category.DEPENDENCY_FAILURE
    assert "tool lookup_order (gen_ai.tool.name) errors 0% ->" in top.evidence[0]
    assert "error.type ConnectTimeout" in top.evidence[0]


def test_max_tokens_after_a_model_switch_is_a_prompt_regression(endpoint):
    switched = Phase(model=NEW_MODEL, finish_reason="max_tokens", output_tokens=1024)
    seed_turns(endpoint, [(ONSET, switched)])
    top, _ = top_of(endpoint)
    assert top.category is Category.PROMPT_REGRESSION
    text = " ".join(top.evidence)
    assert "finish_reasons max_tokens 0% -> 100%" in text
    assert f"gen_ai.request.model {MODEL} -> {NEW_MODEL}" in text


def test_throttled_chat_spans_are_model_throttling_without_bedrock_metrics(endpoint):
    seed_turns(endpoint, [(ONSET, Phase(chat_error=0.5))])
    top, _ = top_of(endpoint)
    assert top.category is Category.MODEL_THROTTLING
    assert "chat spans with error.type ThrottlingException 0 ->" in top.evidence[0]


def test_agentcore_throttles_are_its_own_refusals_not_the_models(endpoint):
    client = endpoint.client("cloudwatch")
    dims = [
        {"Name": "Resource", "Value": RUNTIME_ARN},
        {"Name": "Name", "Value": "support_agent::DEFAULT"},
    ]
    data = []
    for minute in range(-90, 5):
        value = 40.0 if minute >= -10 else 0.0
        at = T0 + timedelta(minutes=minute)
        data.append(
            {"MetricName": "Throttles", "Dimensions": dims, "Timestamp": at, "Value": value}
        )
        data.append(
            {"MetricName": "Invocations", "Dimensions": dims, "Timestamp": at, "Value": 300.0}
        )
    for chunk in range(0, len(data), 500):
        client.put_metric_data(
            Namespace="AWS/Bedrock-AgentCore", MetricData=data[chunk : chunk + 500]
        )
    seed_turns(endpoint, [])
    top, found = top_of(endpoint, agent_alarm("Throttles", "Sum"))
    assert top.category is Category.COMPUTE_SATURATION
    assert any("Throttles" in line for line in top.evidence)
    throttling = next(h for h in found.hypotheses if h.category is Category.MODEL_THROTTLING)
    assert throttling.confidence < top.confidence / 2


def test_the_bundle_shows_span_evidence_and_a_service_without_spans_shows_none(endpoint):
    seed_turns(endpoint, [(ONSET, Phase(steps=9))])
    bundle = gather(endpoint, agent_alarm(), SERVICE, now=T0 + timedelta(minutes=5))
    text = bundle.render()
    assert "## OpenTelemetry spans (before onset -> since onset)" in text
    assert "chat spans per trace (agent steps): p50 2 -> 9" in text
    # The runtime has written no log group yet: said, not guessed.
    assert bundle.missing["logs"] == f"ToolError: no log group found for the runtimes {RUNTIME}"
    other = ServiceEntry(name="billing-api")
    quiet = gather(endpoint, agent_alarm(), other, now=T0 + timedelta(minutes=5))
    assert "OpenTelemetry spans" not in quiet.render()
    assert "spans" not in quiet.missing


@pytest.mark.parametrize(
    "dimensions",
    [
        {"Resource": RUNTIME_ARN},
        {"Name": "support_agent::DEFAULT"},
        {"Name": f"{RUNTIME}::prod"},
    ],
)
def test_an_agentcore_alarm_resolves_to_the_service_of_its_runtime(dimensions):
    catalog = Catalog(
        services=[ServiceEntry(name="other", agent_runtimes=["other-Ab12Cd34Ef"]), SERVICE]
    )
    alarm = agent_alarm().model_copy(update={"dimensions": dimensions, "name": "p95-latency"})
    assert catalog.resolve(alarm) == SERVICE
    if "Name" in dimensions:  # `<runtime>::<endpoint>` names a runtime only in AgentCore's
        elsewhere = alarm.model_copy(update={"namespace": "AWS/Lambda"})
        assert catalog.resolve(elsewhere) is None


@pytest.mark.parametrize(
    ("phase", "category"),
    [
        (Phase(finish_reason="guardrail_intervened"), Category.GUARDRAIL_ABUSE),
        (Phase(model=NEW_MODEL, finish_reason="guardrail_intervened"), Category.PROMPT_REGRESSION),
    ],
)
def test_guardrail_finish_reasons_are_input_abuse_unless_a_change_came_first(
    endpoint, phase, category
):
    seed_turns(endpoint, [(ONSET, phase)])
    top, _ = top_of(endpoint)
    assert top.category is category
    assert any("finish_reasons guardrail_intervened 0% -> 100%" in line for line in top.evidence)


def test_more_steps_because_a_tool_fails_is_the_tools_failure_not_a_runaway_loop(endpoint):
    seed_turns(endpoint, [(ONSET, Phase(steps=6, tool_error=0.5))])
    top, found = top_of(endpoint)
    assert top.category is Category.DEPENDENCY_FAILURE
    loop = next(h for h in found.hypotheses if h.category is Category.TOKEN_COST_SPIKE)
    assert any("agent steps per turn" in line for line in loop.evidence)
    assert loop.confidence < top.confidence


def test_a_runaway_loop_names_the_tool_the_agent_repeats(endpoint):
    seed_turns(endpoint, [(ONSET, Phase(steps=9, tool="search_tickets"))])
    top, _ = top_of(endpoint)
    assert top.category is Category.TOKEN_COST_SPIKE
    repeated = next(line for line in top.evidence if "the step the agent repeats" in line)
    assert "tool search_tickets (gen_ai.tool.name) calls per turn" in repeated


def test_a_switch_seen_just_before_the_onset_still_compares_with_the_old_model(endpoint):
    """The new model's first calls land a few minutes before the onset is seen: they do
    not make its own baseline (which already says `max_tokens`)."""
    switched = Phase(model=NEW_MODEL, finish_reason="max_tokens", output_tokens=1024)
    seed_turns(endpoint, [(ONSET - timedelta(minutes=3), switched)])
    top, _ = top_of(endpoint)
    assert top.category is Category.PROMPT_REGRESSION
    text = " ".join(top.evidence)
    assert "finish_reasons max_tokens 0% -> 100%" in text
    assert f"gen_ai.request.model {MODEL} -> {NEW_MODEL}" in text


def test_traffic_is_measured_from_the_first_span_not_the_window_start(endpoint):
    """An agent instrumented 40 minutes before onset has flat traffic, not a surge."""
    events = agent_turns(T0 - timedelta(minutes=50), T0 + timedelta(minutes=5), 6.0, [])
    put_events(endpoint, "aws/spans", "otel", events)
    bundle = gather(endpoint, agent_alarm(), SERVICE, now=T0 + timedelta(minutes=5))
    line = next(
        line for line in bundle.render().splitlines() if "`invoke_agent support-agent`" in line
    )
    before, after = (
        float(part.split("/min")[0]) for part in line.split(": ", 1)[1].split(" -> ")[:2]
    )
    assert 0.8 <= after / before <= 1.25, line


def test_agentcore_series_are_listed_once_with_the_accounts_session_aggregate(endpoint):
    client = endpoint.client("cloudwatch")
    runtime = [
        {"Name": "Resource", "Value": RUNTIME_ARN},
        {"Name": "Name", "Value": "support_agent::DEFAULT"},
    ]
    account = [{"Name": "Service", "Value": "AgentCore.Runtime"}]
    data = [
        {
            "MetricName": name,
            "Dimensions": dims,
            "Timestamp": T0 - timedelta(minutes=m),
            "Value": 1.0,
        }
        for m in range(5)
        for name, dims in (("Throttles", runtime), ("ActiveSessionCount", account))
    ]
    client.put_metric_data(Namespace="AWS/Bedrock-AgentCore", MetricData=data)
    alarm = agent_alarm("Throttles", "Sum")
    found = service_metrics(endpoint, SERVICE, alarm)
    assert [(ref.name, ref.dimensions.get("Service")) for ref in found] == [
        ("Throttles", None),
        ("ActiveSessionCount", "AgentCore.Runtime"),
    ]
