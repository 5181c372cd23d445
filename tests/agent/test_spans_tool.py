"""The model's `get_agent_spans` tool, through the real `anthropic` client and a scripted
fake Messages API: the same read-only, capped, delimited contract as the other tools,
answering from span events in `aws/spans` (the fake Logs endpoint runs Logs Insights)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from bot.agent.loop import build_agent
from bot.config import BUNDLED_RUNBOOKS, Settings
from bot.engine.investigate import investigate
from bot.engine.runbooks import load_runbooks
from bot.models import Alarm, Category, ServiceEntry
from bot.sim.emulator import emulator_session
from bot.sim.fakes.anthropic import calls, fake_anthropic, submit, tool_use
from bot.sim.fakes.http import serve
from bot.sim.fakes.logs import FakeLogs
from bot.sim.fakes.router import aws_router
from bot.sim.fakes.xray import FakeXRay
from bot.sim.seeding import put_events
from tests.conftest import T0
from tests.fixtures.spans import Phase, agent_turns
from tools.aws import AwsClients

RUNBOOKS = load_runbooks(BUNDLED_RUNBOOKS)
SERVICE = ServiceEntry(name="support-agent")
ALARM = Alarm(
    name="support-agent-errors",
    namespace="SupportAgent",
    metric="Errors",
    evaluation_periods=10,
    changed_at=T0,
)


@pytest.fixture
def case(moto_url, aws):
    logs, xray = FakeLogs(), FakeXRay(destination="CloudWatchLogs")
    with serve(aws_router(moto_url, logs.handler, xray.handler)) as url:
        endpoint = AwsClients("us-east-1", url, emulator_session("us-east-1"))
        phases = [(T0 - timedelta(minutes=10), Phase(tool_error=0.6))]
        events = agent_turns(T0 - timedelta(minutes=90), T0 + timedelta(minutes=5), 6.0, phases)
        put_events(endpoint, "aws/spans", "otel", events)
        triage, bundle = investigate(
            endpoint, ALARM, SERVICE, RUNBOOKS, now=T0 + timedelta(minutes=5)
        )
        yield endpoint, triage, bundle, logs


def analyze(case, url, **extra):
    aws, triage, bundle, _ = case
    values = {"ANTHROPIC_API_KEY": "sk-ant-test-0", "ANTHROPIC_BASE_URL": url, **extra}
    agent = build_agent(Settings(_env_file=None, **values))  # type: ignore[arg-type]
    return agent.analyze(triage, bundle, RUNBOOKS, aws)


def test_the_model_reads_span_figures_with_the_investigations_defaults(case):
    with fake_anthropic(
        calls(tool_use("get_agent_spans", {}, id="toolu_spans")),
        submit(
            category="dependency_failure",
            root_cause="The lookup_order tool times out since T0-10m.",
            evidence=["tool lookup_order errors 0% -> 60% (TimeoutError)"],
            runbook=None,
        ),
    ) as fake:
        result = analyze(case, fake.url)
    assert result.top.category is Category.DEPENDENCY_FAILURE
    offered = {tool["name"] for tool in fake.requests[0].body["tools"]}
    assert "get_agent_spans" in offered
    [answer] = fake.requests[1].tool_results
    assert answer["tool_use_id"] == "toolu_spans" and not answer.get("is_error")
    content = answer["content"]
    assert content.startswith('<untrusted_data source="tool:get_agent_spans">')
    assert "tool lookup_order:" in content and "error.type TimeoutError" in content
    # Scoped to the service's own spans, aggregated: no span is dumped whole.
    assert '"traceId"' not in content


def test_a_long_span_answer_is_cut_to_the_cap_and_a_bad_argument_is_an_error(case):
    with fake_anthropic(
        calls(
            tool_use("get_agent_spans", {}, id="toolu_spans"),
            tool_use("get_agent_spans", {"services": ["x"] * 30}, id="toolu_bad"),
        ),
        submit(category="dependency_failure", runbook=None),
    ) as fake:
        analyze(case, fake.url, LLM_TOOL_RESULT_TOKENS=100)
    answers = {a["tool_use_id"]: a for a in fake.requests[1].tool_results}
    assert "[cut to 100 of about" in answers["toolu_spans"]["content"]
    assert answers["toolu_bad"].get("is_error")
    assert "services" in answers["toolu_bad"]["content"]
