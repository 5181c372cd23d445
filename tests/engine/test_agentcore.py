"""AgentCore Runtime: a service's runtimes bring their built-in series and their log
groups into the evidence, and another runtime's do not."""

from __future__ import annotations

from datetime import timedelta

from bot.engine.agentcore import NAMESPACE, runtime_log_groups
from bot.engine.evidence import gather, service_metrics
from bot.models import Alarm, ServiceEntry
from bot.sim.expand.telemetry import LogEvent
from bot.sim.seeding import put_events
from tests.conftest import T0

RUNTIME = "support_agent-Xy12AbCd34"
OTHER = "billing_agent-Zz98YyXx76"


def arn(runtime: str) -> str:
    return f"arn:aws:bedrock-agentcore:us-east-1:111122223333:runtime/{runtime}"


def runtime_series(aws, runtime: str) -> list:
    """The series the metrics source finds for a service with this runtime, on an alarm
    on the runtime's `Throttles` (the same ListMetrics lookups as every other resource)."""
    dimensions = {
        "Resource": arn(runtime),
        "Operation": "InvokeAgentRuntime",
        "Name": f"{runtime.rsplit('-', 1)[0]}::DEFAULT",
    }
    alarm = Alarm(
        name="agent-throttles",
        namespace=NAMESPACE,
        metric="Throttles",
        dimensions=dimensions,
        statistic="Sum",
        threshold=1,
        changed_at=T0,
    )
    return service_metrics(aws, ServiceEntry(name="support-agent", agent_runtimes=[runtime]), alarm)


def seed_metrics(aws) -> None:
    data = []
    for runtime in (RUNTIME, OTHER):
        name = runtime.rsplit("-", 1)[0]
        for metric in ("Invocations", "Throttles", "SystemErrors"):
            data.append(
                {
                    "MetricName": metric,
                    "Dimensions": [
                        {"Name": "Resource", "Value": arn(runtime)},
                        {"Name": "Operation", "Value": "InvokeAgentRuntime"},
                        {"Name": "Name", "Value": f"{name}::DEFAULT"},
                    ],
                    "Timestamp": T0 - timedelta(minutes=5),
                    "Value": 1.0,
                }
            )
    aws.client("cloudwatch").put_metric_data(Namespace="AWS/Bedrock-AgentCore", MetricData=data)


def test_a_runtimes_series_and_log_groups_are_found_by_its_id(aws):
    seed_metrics(aws)
    for runtime in (RUNTIME, OTHER):
        group = f"/aws/bedrock-agentcore/runtimes/{runtime}-DEFAULT"
        put_events(aws, group, "s", [LogEvent(int(T0.timestamp() * 1000), "agent started")])
    found = runtime_series(aws, RUNTIME)
    assert {ref.name for ref in found} == {"Invocations", "Throttles", "SystemErrors"}
    assert all(ref.dimensions["Resource"] == arn(RUNTIME) for ref in found)
    assert runtime_log_groups(aws, [RUNTIME]) == [
        f"/aws/bedrock-agentcore/runtimes/{RUNTIME}-DEFAULT"
    ]


def test_the_evidence_reads_the_runtimes_log_group_and_series(aws):
    seed_metrics(aws)
    group = f"/aws/bedrock-agentcore/runtimes/{RUNTIME}-DEFAULT"
    lines = [
        LogEvent(int((T0 - timedelta(minutes=m)).timestamp() * 1000), f"turn done in {m}s")
        for m in range(1, 40)
    ]
    put_events(aws, group, "s", lines)
    service = ServiceEntry(name="support-agent", agent_runtimes=[RUNTIME])
    alarm = Alarm(
        name="agent-errors",
        namespace="AWS/Bedrock-AgentCore",
        metric="SystemErrors",
        dimensions={"Resource": arn(RUNTIME)},
        statistic="Sum",
        changed_at=T0,
    )
    bundle = gather(aws, alarm, service, now=T0 + timedelta(minutes=5))
    assert group in bundle.results["logs"].data["sampling"][0]
    read = {
        (s.ref.name, s.ref.dimensions.get("Resource"))
        for s in bundle.results["metrics"].data["series"]
    }
    assert ("Throttles", arn(RUNTIME)) in read
    assert not any(resource == arn(OTHER) for _, resource in read)
