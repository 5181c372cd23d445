"""The fake Logs endpoint answers Logs Insights queries over JSON fields from the events it
holds, as Logs Insights does: nested keys flattened with dots, list items by index,
status codes as text or number; a query outside the subset is refused, not guessed at."""

from __future__ import annotations

import json
import time
from datetime import timedelta

import botocore.exceptions
import pytest

from bot.sim.emulator import emulator_session
from bot.sim.expand.telemetry import LogEvent
from bot.sim.fakes.http import serve
from bot.sim.fakes.logs import FakeLogs
from bot.sim.seeding import put_events
from tests.conftest import T0
from tools.aws import AwsClients

GROUP = "aws/spans"


def span(minute: int, name: str, duration_ms: int, code: object, **attributes: object) -> LogEvent:
    at = int((T0 + timedelta(minutes=minute)).timestamp() * 1000)
    body = {
        "resource": {"attributes": {"service.name": attributes.pop("service", "agent")}},
        "traceId": attributes.pop("trace", f"t{minute}"),
        "name": name,
        "durationNano": duration_ms * 1_000_000,
        "attributes": attributes,
        "status": {"code": code},
    }
    return LogEvent(at, json.dumps(body))


@pytest.fixture
def logs():
    fake = FakeLogs()
    with serve(fake.handler) as url:
        aws = AwsClients("us-east-1", url, emulator_session("us-east-1"))
        events = [
            span(-3, "chat", 1000, "UNSET", **{"gen_ai.usage.output_tokens": 100}, trace="a"),
            span(-3, "chat", 3000, "UNSET", **{"gen_ai.usage.output_tokens": 300}, trace="a"),
            span(-2, "chat", 2000, 2, **{"error.type": "ThrottlingException"}, trace="b"),
            span(
                -1, "tool", 500, "ERROR", **{"gen_ai.tool.name": "lookup", "error.type": "Timeout"}
            ),
            span(-1, "tool", 100, 0, **{"gen_ai.tool.name": "lookup"}, service="other"),
            LogEvent(int((T0 - timedelta(minutes=1)).timestamp() * 1000), "plain text line"),
        ]
        put_events(aws, GROUP, "s", events)
        yield aws.client("logs")


def query(client, text: str) -> list[dict[str, str]]:
    started = client.start_query(
        logGroupNames=[GROUP],
        startTime=int((T0 - timedelta(minutes=10)).timestamp()),
        endTime=int(T0.timestamp()),
        queryString=text,
    )
    for _ in range(200):
        answer = client.get_query_results(queryId=started["queryId"])
        if answer["status"] == "Complete":
            return [{c["field"]: c["value"] for c in row} for row in answer["results"]]
        time.sleep(0.02)
    raise AssertionError("query did not complete")


def test_counts_by_nested_fields_with_text_and_numeric_status(logs):
    rows = query(logs, "stats count(*) as spans by name, status.code | sort spans desc")
    found = {(r.get("name"), r.get("status.code")): r["spans"] for r in rows}
    assert found == {
        ("chat", "UNSET"): "2",
        ("chat", "2"): "1",
        ("tool", "ERROR"): "1",
        ("tool", "0"): "1",
        (None, None): "1",  # the line that is not JSON
    }
    failing = query(logs, 'filter status.code = "ERROR" or status.code = 2 | stats count(*) as n')
    assert failing == [{"n": "2"}]


def test_sums_averages_and_percentiles(logs):
    [row] = query(
        logs,
        'filter name = "chat" | stats sum(attributes.gen_ai.usage.output_tokens) as out, '
        "avg(durationNano) as mean, pct(durationNano, 50) as p50, count(*) as n",
    )
    assert row == {"out": "400", "mean": "2000000000", "p50": "2000000000", "n": "3"}


def test_presence_service_scope_and_a_second_stats(logs):
    rows = query(
        logs,
        'filter resource.attributes.service.name in ["agent"] '
        "| filter ispresent(attributes.gen_ai.tool.name) "
        "| stats count(*) as calls by attributes.gen_ai.tool.name, attributes.error.type",
    )
    assert rows == [
        {"attributes.gen_ai.tool.name": "lookup", "attributes.error.type": "Timeout", "calls": "1"}
    ]
    steps = query(
        logs,
        'filter name = "chat" | stats count(*) as steps by traceId '
        "| stats count(*) as traces by steps | sort steps asc",
    )
    assert steps == [{"steps": "1", "traces": "1"}, {"steps": "2", "traces": "1"}]


def test_bins_by_minute_and_earliest_values(logs):
    rows = query(logs, "stats count(*) as n, earliest(traceId) as first by bin(1m) as minute")
    per_minute = {r["minute"][11:16]: r["n"] for r in rows}
    assert per_minute == {"11:57": "2", "11:58": "1", "11:59": "3"}
    [row] = query(logs, 'filter name = "chat" | stats earliest(traceId) as a, latest(traceId) as b')
    assert row == {"a": "a", "b": "b"}


@pytest.mark.parametrize(
    "text",
    ["stats median(durationNano) as m", "parse @message /(?<x>.*)/", "filter name ~ 'x'"],
)
def test_a_query_outside_the_subset_is_refused(logs, text):
    with pytest.raises(botocore.exceptions.ClientError, match="MalformedQuery"):
        logs.start_query(logGroupNames=[GROUP], startTime=0, endTime=1, queryString=text)
