from datetime import timedelta

from bot.sim.emulator import emulator_session
from bot.sim.fakes.http import latency_proxy, serve
from tests.conftest import T0
from tools import metric_discovery
from tools.aws import AwsClients
from tools.base import TimeRange
from tools.metric_discovery import discover
from tools.metrics import MetricRef, MetricsTool, change_point, fetch_summaries


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


def test_a_busy_account_still_gives_the_services_series_and_says_the_sweep_was_cut(
    aws, monkeypatch
):
    """Hundreds of other series: the filtered lookups (namespace and dimension) still find
    the service's, where an unfiltered listing would stop first; the cut sweep is noted."""
    monkeypatch.setattr(metric_discovery, "SWEEP_PAGES", 1)
    client = aws.client("cloudwatch")
    for batch in range(3):
        client.put_metric_data(
            Namespace="AWS/Lambda",
            MetricData=[
                {
                    "MetricName": "Invocations",
                    "Dimensions": [{"Name": "FunctionName", "Value": f"other-{batch}-{i}"}],
                    "Timestamp": T0 - timedelta(minutes=5),
                    "Value": 1.0,
                }
                for i in range(200)
            ],
        )
    put(aws, "AWS/Lambda", "Errors", {"FunctionName": "quote-api"}, [0] * 3)
    put(aws, "AWS/DynamoDB", "ThrottledRequests", {"TableName": "quote-sessions"}, [0] * 3)
    put(aws, "AWS/ElastiCache", "CPUUtilization", {"CacheClusterId": "quote-cache-002"}, [1] * 3)
    lookups = metric_discovery.resource_lookups(
        "quote", ["quote-api"], [], [], ["dynamodb:quote-sessions", "redis:quote-cache"]
    )
    notes: list[str] = []
    alarm = MetricRef(namespace="AWS/Lambda", name="Duration", dimensions={"FunctionName": "x"})
    found = {
        (r.namespace, r.name) for r in discover(aws, alarm, "quote", ["quote-api"], lookups, notes)
    }
    assert {
        ("AWS/Lambda", "Errors"),
        ("AWS/DynamoDB", "ThrottledRequests"),
        ("AWS/ElastiCache", "CPUUtilization"),
    } <= found
    assert notes == ["ListMetrics for custom namespaces (unfiltered): first 1 pages read (cut)"]


def _cbor(values: dict[str, str]) -> bytes:
    """A CBOR map of short text strings (what a CloudWatch error body is)."""
    out = bytes([0xA0 + len(values)])
    for key, value in values.items():
        for text in (key, value):
            out += bytes([0x60 + len(text)]) + text.encode()
    return out


def test_a_transient_percentile_failure_does_not_turn_percentiles_off(aws, moto_url):
    """Only an answer that says the endpoint never computes percentiles is remembered."""
    dims = {"Route": "/chat"}
    put(aws, "Svc", "Latency", dims, [100] * 65)
    ref = MetricRef(namespace="Svc", name="Latency", dimensions=dims)
    forward = latency_proxy(moto_url, 0.0)
    throttled = []

    def busy_once(path, headers, body):
        if b"p99" in body and not throttled:  # CloudWatch speaks CBOR (smithy RPC v2)
            throttled.append(path)
            error = _cbor({"__type": "ThrottlingException", "message": "Rate exceeded"})
            return (
                400,
                {"Content-Type": "application/cbor", "smithy-protocol": "rpc-v2-cbor"},
                error,
            )
        return forward(path, headers, body)

    with serve(busy_once) as url:
        busy = AwsClients("us-east-1", url, emulator_session("us-east-1"))
        busy.client("cloudwatch")  # created before the protocol is chosen
        [summary], notes = fetch_summaries(busy, [ref], WINDOW, statistic="p99")
    assert throttled and summary.statistic == "Maximum" and "unavailable" in notes[0]
    assert busy.capabilities.get("percentiles") is not False
    # moto answers a percentile query with a bare HTTP 500: that is remembered.
    fetch_summaries(aws, [ref], WINDOW, statistic="p99")
    assert aws.capabilities.get("percentiles") is False
