import socket
from datetime import timedelta

from bot.config import BUNDLED_RUNBOOKS
from bot.engine.evidence import GatherOptions, gather
from bot.engine.investigate import investigate
from bot.engine.runbooks import load_runbooks
from bot.sim.emulator import emulator_session
from bot.sim.expand import expand
from bot.sim.fakes.http import latency_proxy, serve
from bot.sim.scenario import parse_scenario
from bot.sim.seeding import seed
from tests.conftest import T0
from tests.factories import base_scenario, error_lines, errors_from
from tools.aws import AwsClients

NOW = T0 + timedelta(minutes=5)


def seeded(aws, data):
    telemetry = expand(parse_scenario(data, "x"), T0)
    seed(aws, telemetry, "aws-cloudtrail-logs")
    return telemetry


def test_every_source_answers_and_the_bundle_is_small(aws):
    telemetry = seeded(aws, base_scenario())
    bundle = gather(aws, telemetry.alarm, parse_scenario(base_scenario(), "x").service, now=NOW)
    assert set(bundle.results) == {"metrics", "logs", "traces", "spans", "changes"}
    assert not bundle.results["spans"].text  # no spans: nothing to show
    assert bundle.missing == {}
    text = bundle.render()
    assert "## Metrics" in text and "## Log patterns" in text and "## X-Ray" in text
    assert 50 < bundle.tokens < 4000


def test_secrets_in_logs_never_reach_the_rendered_bundle(aws):
    data = base_scenario()
    data["logs"][0]["patterns"].append(
        {
            "template": "[ERROR] login failed for ops@example.com key AKIAIOSFODNN7EXAMPLE",
            "rate": "5/m",
            "from": "-10m",
        }
    )
    telemetry = seeded(aws, data)
    text = gather(aws, telemetry.alarm, parse_scenario(data, "x").service, now=NOW).render()
    assert "ops@example.com" not in text and "AKIAIOSFODNN7EXAMPLE" not in text
    assert "[REDACTED:email]" in text


def test_endpoint_down_still_completes_and_says_what_is_missing():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    aws = AwsClients("us-east-1", f"http://127.0.0.1:{port}", emulator_session("us-east-1"))
    telemetry = expand(parse_scenario(base_scenario(), "x"), T0)
    service = parse_scenario(base_scenario(), "x").service
    investigation, _ = investigate(
        aws, telemetry.alarm, service, load_runbooks(BUNDLED_RUNBOOKS), now=NOW
    )
    assert len(investigation.hypotheses) == 11
    assert all(h.confidence == 0 for h in investigation.hypotheses)
    sources = {line.split(":", 1)[0] for line in investigation.missing}
    assert {"alarm metric", "metrics", "logs", "traces", "changes"} <= sources


def test_a_slow_source_becomes_missing_within_the_deadline(aws, moto_url):
    telemetry = seeded(aws, base_scenario())
    service = parse_scenario(base_scenario(), "x").service
    with serve(latency_proxy(moto_url, 6.0, only="Trace")) as slow:  # X-Ray hangs
        slow_aws = AwsClients("us-east-1", slow, emulator_session("us-east-1"))
        bundle = gather(
            slow_aws, telemetry.alarm, service, now=NOW, options=GatherOptions(deadline_s=4)
        )
    assert bundle.missing == {"traces": "no answer within 4s"}
    # Spans do not wait on a hanging X-Ray: the log group is looked up instead.
    assert set(bundle.results) == {"metrics", "logs", "spans", "changes"}


ROLE = "arn:aws:iam::222233334444:role/llm-incident-read"
PROFILE = "us.anthropic.claude-3-5-haiku-20241022-v1:0"


def test_a_service_in_another_account_is_read_with_its_role(aws):
    """The service's telemetry is in account 222233334444 (moto keeps each account's
    data apart); the bot's own credentials see none of it, its catalog role all of it."""
    data = base_scenario(
        account="222233334444",
        metrics=[*base_scenario()["metrics"][:1], errors_from("-10m")],
    )
    data["logs"][0]["patterns"].append(error_lines("[ERROR] {ts} upstream timed out", "-10m"))
    telemetry = seeded(aws.for_target(role_arn=ROLE, external_id="shared-secret"), data)
    service = parse_scenario(data, "x").service
    assert gather(aws, telemetry.alarm, service, now=NOW).missing.get("logs"), "not ours"

    remote = service.model_copy(
        update={"account": "222233334444", "role_arn": ROLE, "external_id": "shared-secret"}
    )
    bundle = gather(aws, telemetry.alarm, remote, now=NOW)
    assert bundle.missing == {}
    assert "Errors (quote-api) 0 -> 19.7/min from T0-10m" in bundle.results["metrics"].text
    assert "upstream timed out" in bundle.results["logs"].text
    assert bundle.alarm_series is not None and bundle.alarm_series.points, "onset from there too"


def _bedrock(aws_region: AwsClients, name: str, before: float, after: float) -> None:
    """A Bedrock series of the profile: `before` per minute, `after` from ten minutes ago."""
    data = [
        {
            "MetricName": name,
            "Dimensions": [{"Name": "ModelId", "Value": PROFILE}],
            "Timestamp": T0 - timedelta(minutes=minutes),
            "Value": after if minutes <= 10 else before,
            "Unit": "Count",
        }
        for minutes in range(60, -1, -1)
    ]
    aws_region.client("cloudwatch").put_metric_data(Namespace="AWS/Bedrock", MetricData=data)


def test_a_cross_region_profile_is_read_in_the_regions_it_routes_to(aws):
    """Calls through a `us.` profile from us-east-1 may run in us-east-2 or us-west-2:
    their Bedrock metrics and invocation log are read there too, labelled by region."""
    data = base_scenario()
    data["service"]["bedrock"] = {
        "model_ids": [PROFILE],
        "invocation_log_group": "/bedrock/invocations",
    }
    telemetry = seeded(aws, data)
    service = parse_scenario(data, "x").service
    _bedrock(aws, "Invocations", 30, 30)
    west = aws.for_target(region="us-west-2")
    _bedrock(west, "InvocationThrottles", 0, 25)
    logs = west.client("logs")
    logs.create_log_group(logGroupName="/bedrock/invocations")
    logs.create_log_stream(logGroupName="/bedrock/invocations", logStreamName="s")
    logs.put_log_events(
        logGroupName="/bedrock/invocations",
        logStreamName="s",
        logEvents=[
            {
                "timestamp": int((T0 - timedelta(minutes=m)).timestamp() * 1000),
                "message": "ThrottlingException: Too many tokens",
            }
            for m in range(9, 0, -1)
        ],
    )
    bundle = gather(aws, telemetry.alarm, service, now=NOW)
    metrics_text = bundle.results["metrics"].text
    assert "InvocationThrottles" in metrics_text and "us-west-2" in metrics_text
    assert any(
        "also read in us-east-2, us-west-1, us-west-2" in n for n in bundle.results["metrics"].notes
    )
    assert "Too many tokens" in bundle.results["logs"].text
