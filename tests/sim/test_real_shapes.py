"""The simulator writes real shapes (scenario format 1.1 additions), and the investigation
reads them: Lambda's JSON log format, Lambda-shaped X-Ray traces, model invocation log
records with guardrail traces, and PutLogEvents batches within AWS's limits."""

from __future__ import annotations

import copy
import json
from datetime import timedelta

import pytest

from bot.config import BUNDLED_RUNBOOKS
from bot.engine.evidence import gather
from bot.engine.features import extract
from bot.engine.investigate import investigate
from bot.engine.runbooks import load_runbooks
from bot.models import Category
from bot.sim.expand import LogEvent, expand
from bot.sim.scenario import ScenarioError, parse_scenario
from bot.sim.seeding import LOG_BATCH, LOG_BATCH_BYTES, log_batches, seed
from bot.slack.blocks import analysis_message
from tests.conftest import T0
from tests.factories import FUNCTION, base_scenario, errors_from
from tools.guardrail_records import findings

NOW = T0 + timedelta(minutes=5)
REPORT = (
    "REPORT RequestId: {uuid}\tDuration: {float:900-1400} ms\tBilled Duration: {int:900-1400} ms"
    "\tMemory Size: 1024 MB\tMax Memory Used: {int:300-420} MB\t"
)


def run(aws, data):
    scenario = parse_scenario(data, "test")
    telemetry = expand(scenario, T0)
    seed(aws, telemetry, "aws-cloudtrail-logs")
    return investigate(
        aws, telemetry.alarm, scenario.service, load_runbooks(BUNDLED_RUNBOOKS), now=NOW
    )


def test_log_batches_keep_to_put_log_events_limits():
    small = [LogEvent(i, "x" * 20) for i in range(25_000)]
    assert [len(b) for b in log_batches(small)] == [LOG_BATCH, LOG_BATCH, 5_000]
    big = [LogEvent(i, "y" * 2_000) for i in range(2_000)]
    batches = list(log_batches(big))
    assert all(sum(len(e["message"]) + 26 for e in b) <= LOG_BATCH_BYTES for b in batches)
    assert sum(len(b) for b in batches) == 2_000 and len(batches) == 4


def test_a_json_format_group_is_written_as_lambda_writes_it():
    data = base_scenario()
    data["logs"][0]["format"] = "json"
    data["logs"][0]["patterns"] += [
        {"template": "START RequestId: {uuid} Version: 7", "rate": "30/m"},
        {"template": REPORT + "Init Duration: {float:300-500} ms", "rate": "1/m"},
        {"template": "[ERROR] {ts} {uuid} KeyError: 'content'", "rate": "5/m", "from": "-10m"},
    ]
    telemetry = expand(parse_scenario(data, "test"), T0)
    records = [json.loads(e.message) for e in telemetry.logs[0].events]
    types = {r.get("type") for r in records}
    assert {"platform.start", "platform.report"} <= types
    report = next(r for r in records if r.get("type") == "platform.report")
    metrics = report["record"]["metrics"]
    assert metrics["memorySizeMB"] == 1024 and isinstance(metrics["maxMemoryUsedMB"], int)
    assert "initDurationMs" in metrics
    error = next(r for r in records if r.get("level") == "ERROR")
    assert error["message"] == "KeyError: 'content'" and len(error["requestId"]) == 36


def test_lambda_shaped_traces_hold_the_service_function_and_inferred_segments():
    data = base_scenario()
    data["traces"][0]["lambda"] = {"cold_start": 1.0, "init": "700ms"}
    documents = [json.loads(d) for d in expand(parse_scenario(data, "test"), T0).trace_documents]
    origins = {d.get("origin") for d in documents}
    assert {"AWS::Lambda", "AWS::Lambda::Function", "AWS::DynamoDB::Table"} <= origins
    function = next(d for d in documents if d.get("origin") == "AWS::Lambda::Function")
    parts = [s["name"] for s in function["subsegments"]]
    assert parts == ["Initialization", "Invocation", "Overhead"]
    calls = function["subsegments"][1]["subsegments"]
    assert [c["aws"]["operation"] for c in calls] == ["GetItem", "InvokeModel"]


@pytest.mark.parametrize("operation", ["Converse", "InvokeModel"])
def test_invocation_records_carry_the_guardrail_trace_of_their_api(operation):
    data = base_scenario()
    data["service"]["bedrock"]["invocation_log_group"] = "/aws/bedrock/modelinvocations"
    data["invocations"] = [
        {
            "operation": operation,
            "model": "anthropic.claude-3-5-haiku-20241022-v1:0",
            "rate": "20/m",
            "guardrail": {"id": "gr1", "version": 3},
            "phases": [
                {
                    "from": "-10m",
                    "intervened": 1.0,
                    "side": "output",
                    "findings": [
                        {"policy": "topic", "name": "Medical advice"},
                        {"policy": "pii", "name": "US_SOCIAL_SECURITY_NUMBER"},
                    ],
                }
            ],
        }
    ]
    [stream] = [s for s in expand(parse_scenario(data, "test"), T0).logs if "bedrock" in s.group]
    last = json.loads(stream.events[-1].message)
    body = last["output"]["outputBodyJson"]
    key = "trace" if operation == "Converse" else "amazon-bedrock-trace"
    assert key in body and "inputTokenCount" not in last["input"]  # intervened: no tokens
    found, action = findings(last)
    assert {(f.side, f.kind) for f in found} == {
        ("Output", "Medical advice"),
        ("Output", "US_SOCIAL_SECURITY_NUMBER"),
    }
    assert action == ("guardrail_intervened" if operation == "Converse" else "INTERVENED")
    first = json.loads(stream.events[0].message)
    assert first["input"]["inputTokenCount"] > 0 and not findings(first)[0]


def test_bad_invocation_shapes_are_rejected_with_the_field_named():
    data = base_scenario()
    data["invocations"] = [{"model": "m", "rate": "1/m", "input_tokens": "900-100"}]
    with pytest.raises(ScenarioError, match=r"invocations\[0\]\.input_tokens"):
        parse_scenario(data, "test")
    data["invocations"] = [
        {"model": "m", "rate": "1/m", "phases": [{"findings": [{"policy": "x"}]}]}
    ]
    with pytest.raises(ScenarioError, match=r"invocations\[0\]\.phases\[0\]\.findings"):
        parse_scenario(data, "test")


def killed_by_memory(log_format: str = "text") -> dict:
    """The function runs out of memory: Lambda kills it with SIGKILL, which it reports as
    `Runtime exited with error: signal: killed` (no word of memory), and its REPORT lines
    show Max Memory Used at Memory Size."""
    data = base_scenario()
    data["metrics"][1] = errors_from("-10m", 10)
    group = data["logs"][0]
    group["format"] = log_format
    group["patterns"] += [
        {"template": "START RequestId: {uuid} Version: 7", "rate": "30/m"},
        {"template": REPORT, "rate": "30/m", "to": "-10m"},
        {"template": REPORT, "rate": "20/m", "from": "-10m"},
        {
            "template": REPORT.replace("{int:300-420}", "1024"),
            "rate": "10/m",
            "from": "-10m",
        },
        {
            "template": "RequestId: {uuid} Error: Runtime exited with error: signal: killed "
            "Runtime.ExitError",
            "rate": "10/m",
            "from": "-10m",
        },
    ]
    data["traces"][0]["lambda"] = {"cold_start": 0.02}
    data["traces"][0]["phases"] = [
        {"from": "-10m", "root": {"fault": 0.3, "http_status": 502, "message": "signal: killed"}}
    ]
    return data


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_a_signal_killed_invocation_is_compute_not_a_dependency(aws, log_format):
    found, _ = run(aws, killed_by_memory(log_format))
    ranked = [h.category for h in found.hypotheses]
    assert ranked[0] == Category.COMPUTE_SATURATION, found.hypotheses[:2]
    evidence = " ".join(found.hypotheses[0].evidence)
    assert "signal: killed" in evidence or "out of memory" in evidence
    dependency = next(h for h in found.hypotheses if h.category == Category.DEPENDENCY_FAILURE)
    assert dependency.confidence < found.hypotheses[0].confidence


def cold_start_storm() -> dict:
    """Provisioned concurrency is gone: most invocations start cold, and their
    Initialization (6 s) dominates every trace; the handler is as fast as before."""
    data = base_scenario()
    data["alarm"] = {
        "name": "quote-api-duration",
        "namespace": "AWS/Lambda",
        "metric": "Duration",
        "dimensions": {"FunctionName": FUNCTION},
        "statistic": "Maximum",
        "period": 60,
        "evaluation_periods": 2,
        "threshold": 5000,
        "comparison": "GreaterThanThreshold",
    }
    data["metrics"].append(
        {
            "namespace": "AWS/Lambda",
            "name": "Duration",
            "dimensions": {"FunctionName": FUNCTION},
            "unit": "Milliseconds",
            "segments": [{"to": "-10m", "value": 1200}, {"from": "-10m", "value": 7200}],
        }
    )
    data["logs"][0]["patterns"] += [
        {"template": REPORT, "rate": "10/m", "to": "-10m"},
        {"template": REPORT + "Init Duration: {float:5800-6400} ms", "rate": "7/m", "from": "-10m"},
        {"template": REPORT, "rate": "3/m", "from": "-10m"},
    ]
    data["traces"][0]["lambda"] = {"cold_start": 0.02, "init": "600ms"}
    data["traces"][0]["phases"] = [{"from": "-10m", "lambda": {"cold_start": 0.7, "init": "6s"}}]
    return data


def test_a_cold_start_dominated_trace_is_compute_not_a_dependency(aws):
    data = cold_start_storm()
    scenario = parse_scenario(data, "test")
    telemetry = expand(scenario, T0)
    seed(aws, telemetry, "aws-cloudtrail-logs")
    bundle = gather(aws, telemetry.alarm, scenario.service, now=NOW)
    features = extract(bundle)
    cold = [s for s in features.segments if s.name == "Initialization"]
    assert cold and all(features.segment_kind(s) == "cold_start" for s in cold)
    assert not [s for s in features.segments_of("dependency") if s.name == "Initialization"]
    found, _ = run(aws, data)
    assert found.hypotheses[0].category == Category.COMPUTE_SATURATION, found.hypotheses[:2]


def test_the_same_incident_in_the_json_log_format_gets_the_same_answer(aws, moto_url):
    from bot.sim.emulator import reset_emulator

    text, _ = run(aws, killed_by_memory("text"))
    reset_emulator(moto_url)
    json_format, _ = run(aws, killed_by_memory("json"))
    assert text.hypotheses[0].category == json_format.hypotheses[0].category


def test_what_was_read_reaches_the_json_and_the_slack_report(aws):
    found, bundle = run(aws, copy.deepcopy(killed_by_memory()))
    assert any(line.startswith(f"/aws/lambda/{FUNCTION}: all ") for line in found.sampling)
    assert any(line.startswith("X-Ray: ") for line in found.sampling)
    assert json.loads(found.model_dump_json())["sampling"] == found.sampling
    _, body = analysis_message(found, bundle.alarm, 1)
    text = json.dumps(body, ensure_ascii=False)
    assert "📏 read" in text and "X-Ray: " in text
