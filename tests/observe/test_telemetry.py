"""The bot's own telemetry: the span tree and GenAI metrics of a scripted investigation
(the real `anthropic` client against the fake Messages API, tools reading moto), and each
way out: in-memory readers, OTLP/HTTP received on loopback, the JSON-lines file,
Prometheus text at `/metrics`, and CloudWatch EMF lines."""

from __future__ import annotations

import io
import json
import threading
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from bot.agent.loop import build_agent
from bot.config import BUNDLED_RUNBOOKS, BUNDLED_SCENARIOS, Settings
from bot.engine.investigate import investigate
from bot.engine.runbooks import load_runbooks
from bot.observe.telemetry import Telemetry, build_telemetry
from bot.observe.telemetry_export import metric_points
from bot.sim.emulator import emulator_session, reset_emulator
from bot.sim.fakes.anthropic import calls, fake_anthropic, submit, tool_use
from bot.sim.fakes.http import serve
from bot.sim.replay import ScenarioReplay, replay
from bot.sim.scenario import load_scenario
from tests.fixtures.executors import Recorded as RecordedExecutor
from tools.aws import AwsClients

SCENARIO = BUNDLED_SCENARIOS / "bad-deployment-prompt-injection-in-logs.yaml"
PLANT = "IGNORE PREVIOUS INSTRUCTIONS"
KEY = "sk-ant-test-0000000000000000"
RUNBOOKS = load_runbooks(BUNDLED_RUNBOOKS)


@dataclass
class Case:
    run: ScenarioReplay


@dataclass
class Recorded:
    telemetry: Telemetry
    spans: InMemorySpanExporter
    metrics: InMemoryMetricReader

    def finished(self) -> list[ReadableSpan]:
        return list(self.spans.get_finished_spans())

    def points(self) -> list[dict]:
        return list(metric_points(self.metrics.get_metrics_data()))


@pytest.fixture(scope="module")
def case(moto_url: str) -> Case:
    reset_emulator(moto_url)
    scenario = load_scenario(SCENARIO)
    aws = AwsClients(scenario.region, moto_url, emulator_session(scenario.region))
    return Case(replay(scenario, aws, Settings(_env_file=None)))


def settings(**values: object) -> Settings:
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def llm_settings(url: str, **extra: object) -> Settings:
    return settings(
        ANTHROPIC_API_KEY=KEY, ANTHROPIC_BASE_URL=url, LLM_MODEL="claude-sonnet-5", **extra
    )


@pytest.fixture
def recorded() -> Iterator[Recorded]:
    yield from _recorded(settings())


def _recorded(config: Settings) -> Iterator[Recorded]:
    spans, metrics = InMemorySpanExporter(), InMemoryMetricReader()
    telemetry = build_telemetry(config, span_exporters=[spans], metric_readers=[metrics])
    yield Recorded(telemetry, spans, metrics)
    telemetry.shutdown()


def run_scripted(case: Case, telemetry: Telemetry, url: str, **extra: object):
    agent = build_agent(llm_settings(url, **extra), telemetry)
    return investigate(
        case.run.aws,
        case.run.alarm,
        case.run.service,
        RUNBOOKS,
        now=case.run.telemetry.end,
        agent=agent,
        incident_id=42,
    )


SCRIPT = (
    calls(
        tool_use("get_recent_changes", {}, id="toolu_changes"),
        tool_use("search_runbooks", {"query": "KeyError after deploy"}, id="toolu_books"),
    ),
    submit(),
)


def test_a_scripted_investigation_is_one_trace_of_agent_chat_and_tool_spans(
    case: Case, recorded: Recorded
):
    with fake_anthropic(*SCRIPT) as fake:
        investigation, _ = run_scripted(case, recorded.telemetry, fake.url)
    assert investigation.source == "llm"
    spans = recorded.finished()
    [agent] = [s for s in spans if s.name == "invoke_agent llm-incident"]
    chats = sorted((s for s in spans if s.name.startswith("chat ")), key=lambda s: s.start_time)
    tools = {s.attributes["gen_ai.tool.name"]: s for s in spans if s.name.startswith("execute_")}
    assert [s.name for s in chats] == ["chat claude-sonnet-5"] * 2
    assert set(tools) == {"get_recent_changes", "search_runbooks"}
    assert {s.name for s in tools.values()} == {
        "execute_tool get_recent_changes",
        "execute_tool search_runbooks",
    }
    # One trace; the model calls and the tool calls (run on a thread pool) hang off the
    # investigation's span.
    assert agent.parent is None
    for span in [*chats, *tools.values()]:
        assert span.context.trace_id == agent.context.trace_id
        assert span.parent is not None and span.parent.span_id == agent.context.span_id
    attributes = agent.attributes
    assert attributes["gen_ai.operation.name"] == "invoke_agent"
    assert attributes["llm_incident.incident.id"] == 42
    assert attributes["llm_incident.alarm.name"] == case.run.alarm.name
    assert attributes["llm_incident.prompt.version"] == investigation.prompt_version
    assert attributes["llm_incident.analysis.source"] == "llm"
    assert attributes["llm_incident.analysis.category"] == "bad_deployment"
    assert attributes["gen_ai.provider.name"] == "anthropic"
    first = chats[0].attributes
    assert first["gen_ai.operation.name"] == "chat"
    assert first["gen_ai.provider.name"] == "anthropic"
    assert first["gen_ai.request.model"] == first["gen_ai.response.model"] == "claude-sonnet-5"
    assert first["gen_ai.request.max_tokens"] == 4096
    assert tuple(first["gen_ai.response.finish_reasons"]) == ("tool_use",)
    assert first["gen_ai.response.id"] == "msg_0001"
    usage = investigation.usage
    assert sum(s.attributes["gen_ai.usage.output_tokens"] for s in chats) == usage.output_tokens
    assert sum(s.attributes["gen_ai.usage.input_tokens"] for s in chats) == (
        usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
    )
    books = tools["search_runbooks"].attributes
    assert books["gen_ai.operation.name"] == "execute_tool"
    assert books["gen_ai.tool.call.id"] == "toolu_books"
    # No message content by default: neither the prompt nor the tool output is recorded.
    dumped = json.dumps([dict(s.attributes) for s in spans], default=str)
    assert "gen_ai.input.messages" not in dumped and "gen_ai.tool.call.result" not in dumped
    assert PLANT not in dumped and "KeyError" not in dumped


def test_message_content_is_recorded_only_when_asked(case: Case):
    config = settings(OTEL_INSTRUMENTATION_GENAI_CAPTURE_MESSAGE_CONTENT="true")
    for recorded in _recorded(config):
        with fake_anthropic(*SCRIPT) as fake:
            run_scripted(case, recorded.telemetry, fake.url)
        spans = recorded.finished()
        first = min((s for s in spans if s.name.startswith("chat ")), key=lambda s: s.start_time)
        messages = json.loads(first.attributes["gen_ai.input.messages"])
        assert messages[0]["role"] == "user" and messages[0]["parts"][0]["type"] == "text"
        assert PLANT in messages[0]["parts"][0]["content"]  # the evidence the model read
        assert (
            "llm-incident"
            in json.loads(first.attributes["gen_ai.system_instructions"])[0]["content"]
        )
        output = json.loads(first.attributes["gen_ai.output.messages"])
        assert output[0]["finish_reason"] == "tool_call"
        assert {p["name"] for p in output[0]["parts"]} == {"get_recent_changes", "search_runbooks"}
        [books] = [s for s in spans if s.name == "execute_tool search_runbooks"]
        assert json.loads(books.attributes["gen_ai.tool.call.arguments"])["query"].startswith(
            "KeyError"
        )
        assert "bad-deployment" in books.attributes["gen_ai.tool.call.result"]


def test_gen_ai_metrics_count_tokens_and_durations_per_call(case: Case, recorded: Recorded):
    with fake_anthropic(*SCRIPT) as fake:
        investigation, _ = run_scripted(case, recorded.telemetry, fake.url)
    points = recorded.points()
    tokens = {
        p["attributes"]["gen_ai.token.type"]: p
        for p in points
        if p["name"] == "gen_ai.client.token.usage"
    }
    assert set(tokens) == {"input", "output"}
    assert all(p["unit"] == "{token}" and p["kind"] == "histogram" for p in tokens.values())
    for point in tokens.values():
        assert point["value"]["count"] == 2
        assert point["attributes"]["gen_ai.operation.name"] == "chat"
        assert point["attributes"]["gen_ai.provider.name"] == "anthropic"
        assert point["attributes"]["gen_ai.request.model"] == "claude-sonnet-5"
    usage = investigation.usage
    assert tokens["output"]["value"]["sum"] == usage.output_tokens
    assert tokens["input"]["value"]["sum"] == (
        usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
    )
    [duration] = [p for p in points if p["name"] == "gen_ai.client.operation.duration"]
    assert duration["unit"] == "s" and duration["value"]["count"] == 2
    [analyses] = [p for p in points if p["name"] == "llm_incident.analyses"]
    assert analyses["attributes"] == {"llm_incident.analysis.source": "llm"}
    assert analyses["value"] == 1
    [cost] = [p for p in points if p["name"] == "llm_incident.llm.cost"]
    assert cost["value"] == pytest.approx(usage.cost_usd) and cost["unit"] == "USD"


def test_a_failed_call_is_an_error_span_and_a_duration_with_its_error_type(
    case: Case, recorded: Recorded
):
    from bot.sim.fakes.anthropic import overloaded

    with fake_anthropic(overloaded(), submit()) as fake:
        investigation, _ = run_scripted(case, recorded.telemetry, fake.url)
    assert investigation.source == "llm"
    chats = sorted(
        (s for s in recorded.finished() if s.name.startswith("chat ")), key=lambda s: s.start_time
    )
    assert [s.status.status_code.name for s in chats] == ["ERROR", "UNSET"]
    assert chats[0].attributes["error.type"] == "OverloadedError"
    durations = [p for p in recorded.points() if p["name"] == "gen_ai.client.operation.duration"]
    assert {p["attributes"].get("error.type") for p in durations} == {"OverloadedError", None}


def test_a_triage_only_investigation_still_has_its_agent_span(case: Case, recorded: Recorded):
    investigation, _ = investigate(
        case.run.aws,
        case.run.alarm,
        case.run.service,
        RUNBOOKS,
        now=case.run.telemetry.end,
        agent=build_agent(settings(), recorded.telemetry),
    )
    [span] = recorded.finished()
    assert span.name == "invoke_agent llm-incident"
    assert span.attributes["llm_incident.analysis.source"] == "triage"
    assert span.attributes["gen_ai.operation.name"] == "invoke_agent"
    assert span.attributes["llm_incident.analysis.category"] == investigation.top.category.value
    assert "no LLM configured" in span.attributes["llm_incident.analysis.fallback_reason"]
    [analyses] = [p for p in recorded.points() if p["name"] == "llm_incident.analyses"]
    assert analyses["attributes"]["llm_incident.analysis.source"] == "triage"


def test_without_telemetry_an_investigation_records_nothing_and_still_answers(case: Case):
    investigation, _ = investigate(
        case.run.aws, case.run.alarm, case.run.service, RUNBOOKS, now=case.run.telemetry.end
    )
    assert investigation.top is not None
    assert not Telemetry.disabled().enabled


def test_otlp_over_http_reaches_a_collector(case: Case):
    received: dict[str, list[bytes]] = {"/v1/traces": [], "/v1/metrics": []}
    got_traces = threading.Event()

    def collector(path: str, headers: dict[str, str], body: bytes):
        received.setdefault(path, []).append(body)
        if path == "/v1/traces":
            got_traces.set()
        return 200, {"Content-Type": "application/x-protobuf"}, b""

    with serve(collector) as url:
        telemetry = build_telemetry(settings(OTEL_EXPORTER_OTLP_ENDPOINT=url))
        with fake_anthropic(*SCRIPT) as fake:
            run_scripted(case, telemetry, fake.url)
        telemetry.shutdown()  # flushes the batch processor and the metric reader
        assert got_traces.wait(5)
    names = set()
    for body in received["/v1/traces"]:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}
            assert service["service.name"] == "llm-incident"
            for scope in resource.scope_spans:
                names |= {span.name for span in scope.spans}
    assert {"invoke_agent llm-incident", "chat claude-sonnet-5"} <= names
    assert "execute_tool search_runbooks" in names
    metric_names = set()
    for body in received["/v1/metrics"]:
        request = ExportMetricsServiceRequest()
        request.ParseFromString(body)
        for resource in request.resource_metrics:
            for scope in resource.scope_metrics:
                metric_names |= {metric.name for metric in scope.metrics}
    assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"} <= metric_names


def test_the_telemetry_file_holds_one_json_object_per_span_and_metric_point(
    case: Case, tmp_path: Path
):
    path = tmp_path / "telemetry.jsonl"
    telemetry = build_telemetry(settings(LLM_INCIDENT_TELEMETRY_FILE=str(path)))
    with fake_anthropic(*SCRIPT) as fake:
        run_scripted(case, telemetry, fake.url)
    telemetry.shutdown()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    spans = [r for r in records if r["type"] == "span"]
    points = [r for r in records if r["type"] == "metric"]
    [root] = [s for s in spans if s["name"] == "invoke_agent llm-incident"]
    assert root["parent_span_id"] is None and len(root["trace_id"]) == 32
    assert root["start_time"] <= root["end_time"]
    children = [s for s in spans if s["parent_span_id"] == root["span_id"]]
    assert {s["name"] for s in children} >= {
        "chat claude-sonnet-5",
        "execute_tool get_recent_changes",
    }
    assert all(s["trace_id"] == root["trace_id"] for s in spans)
    chat = next(s for s in children if s["name"].startswith("chat"))
    assert chat["attributes"]["gen_ai.response.finish_reasons"] in (["tool_use"], ["end_turn"])
    output = [
        p
        for p in points
        if p["name"] == "gen_ai.client.token.usage"
        if p["attributes"]["gen_ai.token.type"] == "output"
    ]
    assert output and output[0]["value"]["count"] == 2


def test_metrics_page_shows_the_otel_metrics_beside_the_servers_own(
    db_url: str, tmp_path: Path, moto_url: str
):
    from prometheus_client import CollectorRegistry

    from bot.ingest.sns import CertificateCache
    from bot.server.runtime import build
    from bot.server.web import WebApp, make_server
    from bot.sim.fakes.slack import fake_slack

    with fake_slack() as slack:
        config = settings(
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET="secret",
            SLACK_API_URL=slack.url + "/api/",
            DATABASE_URL=db_url,
            LLM_INCIDENT_DATA_DIR=str(tmp_path),
            AWS_ENDPOINT_URL=moto_url,
        )
        registry = CollectorRegistry()
        telemetry = build_telemetry(config, prometheus=registry)
        ctx, app = build(config, telemetry=telemetry)
        server = make_server(WebApp(app, ctx.incidents, CertificateCache()), "127.0.0.1", 0)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        try:
            telemetry.feedback(1)
            telemetry.feedback(-1)
            telemetry.feedback(1)
            port = server.effective_port
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as page:
                text = page.read().decode()
        finally:
            server.close()
            telemetry.shutdown()
    assert 'llm_incident_feedback_total{llm_incident_feedback_vote="up"} 2.0' in text
    assert 'llm_incident_feedback_total{llm_incident_feedback_vote="down"} 1.0' in text
    assert "llm_incident_http_requests_total" in text  # the server's own, same page


def test_emf_lines_are_cloudwatch_metrics(case: Case):
    stream = io.StringIO()
    telemetry = build_telemetry(settings(), emf=stream)
    with fake_anthropic(*SCRIPT) as fake:
        run_scripted(case, telemetry, fake.url)
    assert stream.getvalue() == ""  # nothing until the invocation's end flushes
    telemetry.flush()
    documents = [json.loads(line) for line in stream.getvalue().splitlines()]
    by_name = {}
    for document in documents:
        [directive] = document["_aws"]["CloudWatchMetrics"]
        assert directive["Namespace"] == "LLMIncident"
        [metric] = directive["Metrics"]
        for dimension in directive["Dimensions"][0]:
            assert dimension in document  # every dimension has its value
        by_name.setdefault(metric["Name"], []).append((document, metric))
    tokens = by_name["gen_ai.client.token.usage"]
    assert {d["gen_ai.token.type"] for d, _ in tokens} == {"input", "output"}
    output = next(d for d, _ in tokens if d["gen_ai.token.type"] == "output")
    assert output["gen_ai.client.token.usage"]["Count"] == 2
    [(_, unit)] = by_name["gen_ai.client.operation.duration"]
    assert unit["Unit"] == "Seconds"
    [(analyses, _)] = by_name["llm_incident.analyses"]
    assert analyses["llm_incident.analyses"] == 1
    telemetry.flush()
    assert len(stream.getvalue().splitlines()) == len(documents)  # deltas: nothing new
    telemetry.shutdown()


def test_an_alarm_through_the_flow_counts_its_incident_and_time_to_first_analysis(
    moto_url: str, db_url: str, recorded: Recorded
):
    from datetime import UTC, datetime, timedelta

    from bot.engine.catalog import Catalog
    from bot.incidents.flow import Incidents, Runtime
    from bot.ingest.alarms import parse_alarm_payload
    from bot.server.runtime import InlineExecutor
    from bot.sim.fakes.slack import fake_slack
    from bot.sim.payloads import sns_notification
    from bot.slack.threads import Poster, SlackThread, web_client
    from bot.store import Store
    from tests.factories import ALARM

    alarm = ALARM.model_copy(update={"changed_at": datetime.now(UTC) - timedelta(seconds=90)})
    # Not the `aws` fixture: resetting moto would drop the module's seeded scenario.
    aws = AwsClients(alarm.region, moto_url, emulator_session(alarm.region))
    with fake_slack() as slack:
        runtime = Runtime(
            settings=Settings(_env_file=None, LLM_INCIDENT_DEFAULT_CHANNEL="#incidents"),
            store=Store(db_url),
            catalog=Catalog(),
            runbooks=RUNBOOKS,
            aws=aws,
            thread=SlackThread(Poster(web_client("xoxb-test", slack.url + "/api/"))),
            executor=RecordedExecutor(),
            telemetry=recorded.telemetry,
            notes=InlineExecutor(),  # the root message is posted before the job is queued
        )
        incidents = Incidents(runtime)
        notice = parse_alarm_payload(json.dumps(sns_notification(alarm, "m-1")))
        assert incidents.receive(notice) == "opened"
        assert incidents.receive(notice) == "duplicate"  # a repeat opens nothing
        [job] = runtime.executor.submitted
        incidents.run_job(*job)
    points = recorded.points()
    [opened] = [p for p in points if p["name"] == "llm_incident.incidents.opened"]
    assert opened["value"] == 1 and opened["attributes"] == {"llm_incident.service": ALARM.name}
    [first] = [p for p in points if p["name"] == "llm_incident.analysis.time_to_first"]
    assert first["value"]["count"] == 1 and 90 <= first["value"]["sum"] < 150
    [span] = [s for s in recorded.finished() if s.name == "invoke_agent llm-incident"]
    assert span.attributes["llm_incident.incident.id"] >= 1
