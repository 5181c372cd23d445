from datetime import timedelta

from tests.conftest import T0
from tools.base import TimeRange
from tools.metrics import MetricRef, MetricsTool, change_point, discover, fetch_summaries


def put(aws, namespace, name, dimensions, values, start=T0 - timedelta(minutes=60)):
    client = aws.client("cloudwatch")
    data = [
        {
            "MetricName": name,
            "Dimensions": [{"Name": k, "Value": v} for k, v in dimensions.items()],
            "Timestamp": start + timedelta(minutes=i),
            "Value": value,
        }
        for i, value in enumerate(values)
    ]
    client.put_metric_data(Namespace=namespace, MetricData=data)


WINDOW = TimeRange(
    start=T0 - timedelta(minutes=60),
    end=T0 + timedelta(minutes=5),
    onset=T0 - timedelta(minutes=12),
    t0=T0,
)


def test_change_point_finds_a_step_and_the_start_of_a_ramp():
    assert change_point([1, 0, 1, 0, 1, 0, 40, 41, 39, 40]) == 6
    ramp = [5.0] * 20 + [5 + 10 * i for i in range(1, 11)] + [105.0] * 10
    assert change_point(ramp) == 20
    assert change_point([3, 3, 3]) is None


def test_a_step_is_anomalous_with_its_own_onset(aws):
    dims = {"ModelId": "m"}
    put(aws, "AWS/Bedrock", "InvocationThrottles", dims, [0] * 48 + [38] * 17)
    put(aws, "AWS/Bedrock", "Invocations", dims, [100] * 65)
    refs = [
        MetricRef(namespace="AWS/Bedrock", name=n, dimensions=dims)
        for n in ("InvocationThrottles", "Invocations")
    ]
    result = MetricsTool(aws)(
        {"metrics": refs, "start": WINDOW.start, "end": WINDOW.end, "onset": WINDOW.onset, "t0": T0}
    )
    throttles, invocations = result.data["series"]
    assert throttles.anomalous and throttles.change_at == T0 - timedelta(minutes=12)
    assert "InvocationThrottles (m) 0 -> 38/min from T0-12m" in result.text
    assert not invocations.anomalous
    assert "unchanged: Invocations" in result.text


def test_a_baseline_blip_is_not_an_incident(aws):
    dims = {"FunctionName": "f"}
    put(aws, "AWS/Lambda", "Errors", dims, [0] * 20 + [6] + [0] * 44)
    [summary], _ = fetch_summaries(
        aws, [MetricRef(namespace="AWS/Lambda", name="Errors", dimensions=dims)], WINDOW
    )
    assert not summary.anomalous


def test_refused_percentile_falls_back_to_maximum_and_says_so(aws):
    dims = {"Route": "/chat"}
    put(aws, "Svc", "Latency", dims, [100] * 65)
    ref = MetricRef(namespace="Svc", name="Latency", dimensions=dims)
    [summary], notes = fetch_summaries(aws, [ref], WINDOW, statistic="p99")
    assert summary.statistic == "Maximum" and summary.recent == 100
    assert notes and "p99" in notes[0] and "Maximum" in notes[0]


def test_discovery_keeps_the_services_series_only(aws):
    put(aws, "AWS/Lambda", "Errors", {"FunctionName": "quote-api"}, [0] * 3)
    put(aws, "AWS/Lambda", "Errors", {"FunctionName": "someone-else"}, [0] * 3)
    put(aws, "AWS/Bedrock", "Invocations", {"ModelId": "model-a"}, [1] * 3)
    put(aws, "QuoteService", "Answers", {"Route": "/q"}, [1] * 3)
    put(
        aws,
        "AWS/Bedrock/Guardrails",
        "InvocationsIntervened",
        {"GuardrailArn": "arn:aws:bedrock:us-east-1:1:guardrail/gr1"},
        [1] * 3,
    )
    alarm = MetricRef(
        namespace="AWS/Lambda", name="Errors", dimensions={"FunctionName": "quote-api"}
    )
    resources = ["quote-api", "model-a", "gr1"]
    found = {
        (r.namespace, r.name, tuple(r.dimensions.values()))
        for r in discover(aws, alarm, "quote-service", resources)
    }
    assert ("AWS/Lambda", "Errors", ("someone-else",)) not in found
    assert ("AWS/Bedrock", "Invocations", ("model-a",)) in found
    assert ("QuoteService", "Answers", ("/q",)) in found
    assert any(ns == "AWS/Bedrock/Guardrails" for ns, _, _ in found)
