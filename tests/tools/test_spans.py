"""The span tool: figures of an instrumented agent's spans, compared across the onset,
read from `aws/spans` with Logs Insights (the fake endpoint) or, where the endpoint
cannot run it (moto), from a bounded read aggregated by the same queries."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest

from bot.sim.emulator import emulator_session
from bot.sim.expand.telemetry import LogEvent
from bot.sim.fakes.http import serve
from bot.sim.fakes.logs import FakeLogs
from bot.sim.fakes.router import aws_router
from bot.sim.fakes.xray import FakeXRay
from bot.sim.seeding import put_events
from tests.conftest import T0
from tests.fixtures.spans import Phase, agent_turns
from tools.aws import AwsClients
from tools.spans import SpansTool

START, ONSET, END = (
    T0 - timedelta(minutes=40),
    T0 - timedelta(minutes=10),
    T0 + timedelta(minutes=5),
)
RUNAWAY = [(ONSET, Phase(steps=9))]
FAILING_TOOL = [(ONSET, Phase(tool_error=0.6, tool_error_type="TimeoutError"))]


def params(**extra):
    return {"start": START, "end": END, "onset": ONSET, "t0": T0, **extra}


@pytest.fixture
def fake_endpoint(moto_url):
    """Logs Insights (fake Logs) and X-Ray with Transaction Search on, moto for the rest."""
    logs, xray = FakeLogs(), FakeXRay(destination="CloudWatchLogs")
    with serve(aws_router(moto_url, logs.handler, xray.handler)) as url:
        yield logs, AwsClients("us-east-1", url, emulator_session("us-east-1"))


def seed(aws, phases, per_minute=6.0, service="support-agent", seed=7):
    events = agent_turns(START, END, per_minute, phases, service=service, seed=seed)
    put_events(aws, "aws/spans", "otel", events)
    return events


def test_a_runaway_loop_shows_as_more_steps_per_turn_at_flat_traffic(fake_endpoint):
    logs, aws = fake_endpoint
    seed(aws, RUNAWAY)
    result = SpansTool(aws)(params())
    assert result.data["path"] == "insights"
    assert "Transaction Search on" in result.text
    before, after = result.data["sides"][False], result.data["sides"][True]
    assert before.step_percentile(0.5) == 2 and after.step_percentile(0.5) == 9
    turns = before.per_minute(before.count_of("invoke_agent"))
    assert after.per_minute(after.count_of("invoke_agent")) == pytest.approx(turns, rel=0.3)
    assert "chat spans per trace (agent steps): p50 2 -> 9" in result.text
    # Aggregations only: every query is a stats query, none reads raw spans.
    queries = [c["queryString"] for c in logs.calls if c["operation"] == "StartQuery"]
    assert queries and all("stats" in q for q in queries)


def test_a_failing_tool_is_named_with_its_error_type_and_sample_traces(fake_endpoint):
    _, aws = fake_endpoint
    events = seed(aws, FAILING_TOOL)
    result = SpansTool(aws)(params())
    tool = result.data["sides"][True].tools["lookup_order"]
    failed = sum(
        1
        for e in events
        if '"error.type": "TimeoutError"' in e.message
        and e.timestamp_ms >= ONSET.timestamp() * 1000
        and e.timestamp_ms < END.timestamp() * 1000
    )
    assert tool.errors == failed and tool.error_types == Counter({"TimeoutError": failed})
    assert result.data["sides"][False].tools["lookup_order"].errors == 0
    assert "tool lookup_order:" in result.text and "error.type TimeoutError" in result.text
    [line] = [x for x in result.text.splitlines() if x.startswith("- new error.type TimeoutError")]
    assert '"read timeout on orders-api"' in line and "(traces " in line


def test_numeric_status_codes_count_as_errors(fake_endpoint):
    _, aws = fake_endpoint
    seed(aws, [(ONSET, Phase(tool_error=0.5, numeric_status=True))])
    result = SpansTool(aws)(params())
    assert result.data["sides"][True].tools["lookup_order"].errors > 5


def test_only_the_services_asked_for_are_counted(fake_endpoint):
    _, aws = fake_endpoint
    seed(aws, RUNAWAY)
    put_events(aws, "aws/spans", "other", agent_turns(START, END, 6.0, [], "billing-agent", 3))
    result = SpansTool(aws)(params(services=["billing-agent"]))
    assert {key[0] for key in result.data["sides"][True].operations} == {"billing-agent"}
    assert result.data["sides"][True].step_percentile(0.5) == 2


def test_without_transaction_search_there_are_no_spans_to_read(moto_url):
    logs, xray = FakeLogs(), FakeXRay(destination="XRay")
    with serve(aws_router(moto_url, logs.handler, xray.handler)) as url:
        aws = AwsClients("us-east-1", url, emulator_session("us-east-1"))
        result = SpansTool(aws)(params())
    assert result.text.startswith("no spans: Transaction Search off")
    assert not [c for c in logs.calls if c["operation"] == "StartQuery"]


def test_moto_without_insights_reads_the_events_and_gets_the_same_figures(aws, fake_endpoint):
    """moto has neither GetTraceSegmentDestination nor Logs Insights: the group is probed
    and its events aggregated by the same queries; the figures equal the Insights ones."""
    seed(aws, FAILING_TOOL)
    _, insights_aws = fake_endpoint
    seed(insights_aws, FAILING_TOOL)
    read = SpansTool(aws)(params())
    assert read.data["path"] == "filter"
    assert "log group aws/spans exists" in read.text
    insights = SpansTool(insights_aws)(params())
    for recent in (False, True):
        mine, theirs = read.data["sides"][recent], insights.data["sides"][recent]
        assert mine.tools == theirs.tools
        assert mine.steps == theirs.steps
        assert {k: v.count for k, v in mine.operations.items()} == {
            k: v.count for k, v in theirs.operations.items()
        }


def test_a_refused_query_leaves_the_other_figures_and_says_so(fake_endpoint, monkeypatch):
    from tools.spans import read

    _, aws = fake_endpoint
    seed(aws, FAILING_TOOL)
    monkeypatch.setitem(read.QUERIES, "steps", "stats median(durationNano) as m")
    result = SpansTool(aws)(params())
    assert result.data["sides"][True].tools["lookup_order"].errors > 5
    assert not result.data["sides"][True].steps
    [note] = result.notes
    assert note.startswith("span query steps failed: MalformedQueryErrorException")


def test_finish_reasons_written_as_a_list_or_as_text_are_both_counted(fake_endpoint):
    _, aws = fake_endpoint
    events = agent_turns(START, END, 6.0, [(ONSET, Phase(finish_reason="max_tokens"))])
    as_text = [
        LogEvent(e.timestamp_ms, e.message.replace('["max_tokens"]', '"max_tokens"'))
        for e in events
    ]
    put_events(aws, "aws/spans", "otel", as_text)
    result = SpansTool(aws)(params())
    [model] = result.data["sides"][True].models.values()
    assert set(model.finish_reasons) == {"max_tokens"}
    assert model.finish_reasons["max_tokens"] == model.calls
    assert result.data["sides"][False].models[model.model].finish_reasons["end_turn"] > 0
