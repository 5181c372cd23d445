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
from tests.factories import base_scenario
from tools.aws import AwsClients

NOW = T0 + timedelta(minutes=5)


def seeded(aws, data):
    telemetry = expand(parse_scenario(data, "x"), T0)
    seed(aws, telemetry, "aws-cloudtrail-logs")
    return telemetry


def test_every_source_answers_and_the_bundle_is_small(aws):
    telemetry = seeded(aws, base_scenario())
    bundle = gather(aws, telemetry.alarm, parse_scenario(base_scenario(), "x").service, now=NOW)
    assert set(bundle.results) == {"metrics", "logs", "traces", "changes"}
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
    assert set(bundle.results) == {"metrics", "logs", "changes"}
