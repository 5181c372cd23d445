"""Span shapes (format 1.1) expand to the JSON events Transaction Search stores."""

import itertools
import json
import re
from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.engine.catalog import Catalog
from bot.sim.expand import expand
from bot.sim.scenario import ScenarioError, parse_scenario
from tests.conftest import ROOT, T0
from tests.factories import base_scenario

MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0"
CHAT = f"chat {MODEL}"
TOOL = "execute_tool lookup_order"


def chat(**extra: Any) -> dict[str, Any]:
    return {
        "name": CHAT,
        "kind": "CLIENT",
        "duration": "1200ms",
        "jitter": 0.2,
        "attributes": {
            "gen_ai.operation.name": "chat",
            "gen_ai.request.model": MODEL,
            "gen_ai.usage.input_tokens": "{int:1800-2600}",
            "gen_ai.usage.output_tokens": "{int:150-400}",
            "gen_ai.response.finish_reasons": ["{choice:end_turn|tool_use}"],
            "temperature": "{float:0.1-0.9}",
        },
        **extra,
    }


def tool(**extra: Any) -> dict[str, Any]:
    return {
        "name": TOOL,
        "duration": "300ms",
        "attributes": {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "lookup_order"},
        **extra,
    }


def shape(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "name": "agent-turn",
        "rate": "6/m",
        "service": "support-agent",
        "resource": {"cloud.resource_id": "agent-{hex:4}"},
        "root": {
            "name": "invoke_agent support-agent",
            "duration": "1s",
            "attributes": {"gen_ai.operation.name": "invoke_agent"},
        },
        "children": [chat(repeat=2), tool()],
    }
    data.update(overrides)
    return data


def spans_of(*shapes: dict[str, Any], **scenario: Any) -> list[dict[str, Any]]:
    data = base_scenario(version=1.1, spans=list(shapes), **scenario)
    telemetry = expand(parse_scenario(data, "x.yaml"), T0)
    assert len(telemetry.spans) == 1
    return [json.loads(event.message) for event in telemetry.spans[0].events]


def by_trace(spans: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    traces: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for span in spans:
        traces[span["traceId"]].append(span)
    return traces


def began(trace: list[dict[str, Any]]) -> timedelta:
    root = next(s for s in trace if "parentSpanId" not in s)
    return timedelta(microseconds=root["startTimeUnixNano"] // 1000) - timedelta(
        microseconds=int(T0.timestamp() * 1_000_000)
    )


def test_events_have_the_transaction_search_fields():
    spans = spans_of(shape())
    traces = by_trace(spans)
    assert len(traces) == 65 * 6  # 6/m over -60m .. +5m
    for trace in traces.values():
        root, *children = trace
        assert "parentSpanId" not in root and root["kind"] == "SERVER"
        assert [c["name"] for c in children] == [CHAT, CHAT, TOOL]
        for span in trace:
            assert re.fullmatch(r"[0-9a-f]{32}", span["traceId"])
            assert re.fullmatch(r"[0-9a-f]{16}", span["spanId"])
            assert span["durationNano"] == span["endTimeUnixNano"] - span["startTimeUnixNano"]
            assert span["resource"]["attributes"]["service.name"] == "support-agent"
            assert span["resource"]["attributes"]["cloud.region"] == "us-east-1"
            assert re.fullmatch(
                r"agent-[0-9a-f]{4}", span["resource"]["attributes"]["cloud.resource_id"]
            )
            assert span["scope"]["name"]
            assert span["status"] == {"code": "UNSET"}
        assert {c["parentSpanId"] for c in children} == {root["spanId"]}
        # one after another, all inside the root, which is stretched to cover them (1s < 2.7s)
        for first, second in itertools.pairwise(children):
            assert first["endTimeUnixNano"] <= second["startTimeUnixNano"]
        assert root["startTimeUnixNano"] < children[0]["startTimeUnixNano"]
        assert root["endTimeUnixNano"] >= children[-1]["endTimeUnixNano"]
        assert int(root["traceId"][:8], 16) == root["startTimeUnixNano"] // 10**9


def test_placeholders_fill_numbers_and_list_items():
    spans = [s for s in spans_of(shape()) if s["name"] == CHAT]
    inputs = [s["attributes"]["gen_ai.usage.input_tokens"] for s in spans]
    assert all(type(v) is int and 1800 <= v <= 2600 for v in inputs)
    assert len(set(inputs)) > 50
    temperatures = [s["attributes"]["temperature"] for s in spans]
    assert all(type(v) is float and 0.1 <= v <= 0.9 for v in temperatures)
    reasons = Counter(s["attributes"]["gen_ai.response.finish_reasons"][0] for s in spans)
    assert set(reasons) == {"end_turn", "tool_use"}


def test_a_loop_repeats_its_children_in_order_and_a_phase_changes_the_repeat():
    loop = {"loop": {"name": "agent-steps", "repeat": 2}, "children": [chat(), tool()]}
    phases = [{"from": "-10m", "children": {"agent-steps": {"repeat": 9}}}]
    traces = by_trace(spans_of(shape(children=[loop], phases=phases)))
    for trace in traces.values():
        names = [s["name"] for s in trace[1:]]
        steps = 9 if began(trace) >= timedelta(minutes=-10) else 2
        assert names == [CHAT, TOOL] * steps


def test_phase_rate_name_attributes_and_window():
    phases = [
        {
            "from": "-20m",
            "to": "-10m",
            "rate": "30/m",
            "children": {
                CHAT: {
                    "name": "chat us.anthropic.claude-3-5-haiku-20241022-v1:0",
                    "attributes": {"gen_ai.response.finish_reasons": ["max_tokens"]},
                }
            },
        }
    ]
    traces = by_trace(spans_of(shape(phases=phases)))
    inside = [
        t for t in traces.values() if timedelta(minutes=-20) <= began(t) < timedelta(minutes=-10)
    ]
    outside = [t for t in traces.values() if t not in inside]
    assert len(inside) == 300 and len(outside) == 55 * 6
    for trace in inside:
        model_calls = [s for s in trace if s["attributes"].get("gen_ai.operation.name") == "chat"]
        assert {s["name"] for s in model_calls} == {
            "chat us.anthropic.claude-3-5-haiku-20241022-v1:0"
        }
        assert all(
            s["attributes"]["gen_ai.response.finish_reasons"] == ["max_tokens"] for s in model_calls
        )
        assert all(s["attributes"]["gen_ai.request.model"] == MODEL for s in model_calls)  # merged
    for trace in outside:
        assert trace[1]["name"] == CHAT


def test_failures_set_status_error_type_and_exception_and_propagate_to_the_root():
    phases = [
        {
            "from": "-10m",
            "children": {
                TOOL: {
                    "error": 0.5,
                    "error_type": "TimeoutError",
                    "message": "read timeout on orders-api",
                }
            },
        }
    ]
    traces = by_trace(spans_of(shape(phases=phases)))
    failed_tools = 0
    for trace in traces.values():
        root, tool_span = trace[0], trace[-1]
        if tool_span["status"]["code"] == "ERROR":
            failed_tools += 1
            assert began(trace) >= timedelta(minutes=-10)
            assert tool_span["attributes"]["error.type"] == "TimeoutError"
            assert tool_span["status"]["message"] == "read timeout on orders-api"
            exception = tool_span["events"][0]
            assert exception["name"] == "exception"
            assert exception["attributes"] == {
                "exception.type": "TimeoutError",
                "exception.message": "read timeout on orders-api",
            }
            assert root["status"]["code"] == "ERROR"
            assert root["attributes"]["error.type"] == "TimeoutError"
        else:
            assert root["status"]["code"] == "UNSET" and "events" not in tool_span
    assert 0.35 * 90 < failed_tools < 0.65 * 90  # 6/m over the last 15 minutes, half failing


def test_a_recovered_failure_leaves_the_root_and_a_failed_call_reports_no_usage():
    phases = [
        {
            "from": "-10m",
            "children": {
                CHAT: {
                    "error": 1.0,
                    "error_type": "ThrottlingException",
                    "propagate": False,
                    "attributes": {"gen_ai.response.finish_reasons": ["error"]},
                }
            },
        }
    ]
    traces = by_trace(spans_of(shape(phases=phases)))
    late = [t for t in traces.values() if began(t) >= timedelta(minutes=-10)]
    assert late
    for trace in late:
        assert trace[0]["status"]["code"] == "UNSET"
        for span in trace[1:3]:
            assert span["status"]["code"] == "ERROR"
            attributes = span["attributes"]
            assert "gen_ai.usage.input_tokens" not in attributes
            assert attributes["gen_ai.response.finish_reasons"] == ["error"]  # the phase set it
            assert attributes["gen_ai.request.model"] == MODEL


def test_same_seed_same_spans_and_spans_go_to_the_services_group():
    first = spans_of(shape())
    assert first == spans_of(shape())
    data = base_scenario(version="1.1", spans=[shape()])
    data["service"]["spans_log_group"] = "custom/spans"
    assert expand(parse_scenario(data, "x"), T0).spans[0].group == "custom/spans"


def test_no_spans_no_stream():
    assert expand(parse_scenario(base_scenario(), "x"), T0).spans == []


@pytest.mark.parametrize("version", [1, "1", 1.0, 1.1, "1.1"])
def test_versions_1_and_1_1_are_read(version):
    assert parse_scenario(base_scenario(version=version), "x").version in {"1", "1.1"}


@pytest.mark.parametrize("version", [2, 1.2, "1.1.0", True, None])
def test_other_versions_are_refused(version):
    with pytest.raises(ScenarioError, match=r"x.yaml: version"):
        parse_scenario(base_scenario(version=version), "x.yaml")


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda s: s["phases"].append({"children": {"nope": {"error": 0.1}}}), "spans[0]", "nope"),
        (
            lambda s: s["children"].append(
                {"loop": {"name": "l"}, "children": [{"loop": {"name": "m"}}]}
            ),
            "spans[0].children[2].loop.children",
            "loop inside a loop",
        ),
        (
            lambda s: s["children"][0].update(kind="SIDEWAYS"),
            "spans[0].children[0].span.kind",
            "SERVER",
        ),
        (
            lambda s: s["children"][0]["attributes"].update(x="{nope}"),
            "spans[0].children[0].span.attributes",
            "nope",
        ),
        (
            lambda s: s["children"][0].update(repeat=-1),
            "spans[0].children[0].span.repeat",
            "greater",
        ),
        (
            lambda s: s["children"][0].update(duration="fast"),
            "spans[0].children[0].span.duration",
            "duration",
        ),
        (lambda s: s.update(rate="lots"), "spans[0].rate", "rate"),
        (lambda s: s["phases"].append({"root": {"repeat": 3}}), "spans[0]", "cannot repeat"),
        (
            lambda s: s["phases"].append({"children": {TOOL: {"error": 1.5}}}),
            "spans[0].phases[0].children",
            "less",
        ),
        (
            lambda s: s["children"].append(
                {"loop": {"name": "l", "repeat": 200}, "children": [tool(repeat=200)]}
            ),
            "spans[0]",
            "at most",
        ),
        (lambda s: s.pop("service"), "spans[0].service", "required"),
        (
            lambda s: s["root"]["attributes"].update(nested={"a": 1}),
            "spans[0].root.attributes",
            "nested",
        ),
    ],
)
def test_bad_span_shapes_name_the_field(change, field, words):
    broken = shape(phases=[])
    change(broken)
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(base_scenario(version=1.1, spans=[broken]), "agent.yaml")
    message = str(caught.value)
    assert message.startswith("agent.yaml: ")
    assert field in message
    assert words in message


GARBAGE = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-5, 500)
    | st.floats(allow_nan=True)
    | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=10,
)
PATHS = [
    ("rate",),
    ("service",),
    ("scope",),
    ("resource",),
    ("root",),
    ("root", "duration"),
    ("root", "kind"),
    ("root", "attributes"),
    ("children",),
    ("children", 0),
    ("children", 0, "repeat"),
    ("children", 0, "attributes"),
    ("children", 0, "attributes", "gen_ai.usage.input_tokens"),
    ("children", 1, "name"),
    ("phases",),
    ("phases", 0),
    ("phases", 0, "from"),
    ("phases", 0, "rate"),
    ("phases", 0, "children"),
    ("phases", 0, "children", TOOL),
    ("phases", 0, "children", TOOL, "error"),
    ("phases", 0, "children", TOOL, "error_type"),
    ("phases", 0, "children", TOOL, "propagate"),
    ("phases", 0, "root"),
]


def _put(data: Any, path: tuple[Any, ...], value: Any) -> None:
    for key in path[:-1]:
        data = data[key]
    data[path[-1]] = value


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(PATHS), GARBAGE), min_size=1, max_size=3))
def test_a_mangled_span_shape_reads_or_fails_with_a_scenario_error(mutations):
    """Whatever a field holds, the reader answers with ScenarioError naming file and
    `spans[...]`, or reads a shape that then expands without error."""
    broken = shape(phases=[{"from": "-1m", "children": {TOOL: {"error": 0.5}}}])
    for path, value in mutations:
        try:
            _put(broken, path, value)
        except (KeyError, IndexError, TypeError):
            continue
    data = base_scenario(version=1.1, spans=[broken], window={"start": "-2m", "tail": "0"})
    try:
        scenario = parse_scenario(data, "fuzz.yaml")
    except ScenarioError as exc:
        message = str(exc)
    else:
        message = ""
    if message:
        assert message.startswith("fuzz.yaml: spans[0]")
        return
    if scenario.spans[0].rate > 2 or any((p.rate or 0) > 2 for p in scenario.spans[0].phases):
        return  # a valid but large shape: its size is the writer's choice, not a reader bug
    for event in expand(scenario, T0).spans[0].events:
        assert json.loads(event.message)["traceId"]


@given(GARBAGE)
def test_any_spans_value_reads_or_fails_with_a_scenario_error(value):
    try:
        parse_scenario(base_scenario(version=1.1, spans=value), "fuzz.yaml")
    except ScenarioError as exc:
        message = str(exc)
    else:
        message = "fuzz.yaml: spans read"
    assert message.startswith("fuzz.yaml: spans")


AGENTCORE_DIMENSIONS = {
    "Resource": "support_agent-Xy12AbCd34",
    "Operation": "InvokeAgentRuntime",
    "Name": "support_agent::DEFAULT",
}


def agentcore_scenario(**alarm: Any) -> dict[str, Any]:
    data = base_scenario(version=1.1)
    data["service"]["agent_runtimes"] = ["support_agent-Xy12AbCd34"]
    data["alarm"] = {
        "name": "runtime-throttles",
        "namespace": "AWS/Bedrock-AgentCore",
        "metric": "Throttles",
        "dimensions": dict(AGENTCORE_DIMENSIONS),
        "statistic": "Sum",
        "threshold": 5,
        **alarm,
    }
    data["metrics"].append(
        {
            "namespace": "AWS/Bedrock-AgentCore",
            "name": "Throttles",
            "dimensions": dict(AGENTCORE_DIMENSIONS),
            "unit": "Count",
            "segments": [{"to": "-5m", "value": 0}, {"from": "-5m", "value": 12}],
        }
    )
    return data


def test_an_agentcore_alarm_names_the_runtime_arn_and_belongs_to_its_service():
    scenario = parse_scenario(agentcore_scenario(), "x")
    assert scenario.service.spans_log_group == "aws/spans"
    telemetry = expand(scenario, T0)
    arn = "arn:aws:bedrock-agentcore:us-east-1:111122223333:runtime/support_agent-Xy12AbCd34"
    assert telemetry.alarm.dimensions["Resource"] == arn
    assert telemetry.metrics[-1].dimensions["Resource"] == arn
    assert telemetry.alarm.reason.startswith("Threshold Crossed: 1 datapoint [12.0")
    # "runtime-throttles" does not start with the service name: the runtime id decides
    assert Catalog(services=[scenario.service]).resolve(telemetry.alarm) == scenario.service


@pytest.mark.parametrize(
    ("dimensions", "words"),
    [
        ({"Name": "support_agent"}, "<runtime name>::<endpoint>"),
        ({"Resource": "not a runtime"}, "runtime ARN or a runtime id"),
    ],
)
def test_agentcore_dimensions_out_of_aws_form_are_refused(dimensions, words):
    data = agentcore_scenario(dimensions={**AGENTCORE_DIMENSIONS, **dimensions})
    with pytest.raises(ScenarioError, match="alarm") as caught:
        parse_scenario(data, "x.yaml")
    assert words in str(caught.value)


def test_an_override_left_empty_keeps_the_base_values():
    phases = [{"from": "-5m", "children": {TOOL: {"duration": None, "name": None, "repeat": None}}}]
    traces = by_trace(spans_of(shape(phases=phases)))
    for trace in traces.values():
        assert [s["name"] for s in trace[1:]] == [CHAT, CHAT, TOOL]
        assert trace[-1]["durationNano"] == 300_000_000


def _spans_examples(text: str) -> list[list[dict[str, Any]]]:
    """The `spans:` lists of a page's YAML examples."""
    found = []
    for block in re.findall(r"```yaml\n(.*?)```", text, re.S):
        if block.startswith("spans:"):
            found.append(yaml.safe_load(block)["spans"])
    return found


@pytest.mark.parametrize(
    "page",
    [ROOT / "docs" / "scenario-format.md", ROOT.parent / "shared" / "SCENARIO_FORMAT.md"],
    ids=["docs", "shared"],
)
def test_the_documented_spans_examples_read_and_expand(page):
    if not page.exists():
        pytest.skip(f"{page} is not here")
    examples = _spans_examples(page.read_text(encoding="utf-8"))
    assert examples
    for spans in examples:
        events = spans_of(*spans)
        assert any(e["status"]["code"] == "ERROR" for e in events)
