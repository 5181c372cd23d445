import json
from pathlib import Path

import boto3
import pytest
import yaml

from bot.cli.main import main
from bot.config import BUNDLED_SCENARIOS
from bot.sim.fakes.http import serve
from bot.sim.fakes.logs import FakeLogs
from bot.sim.fakes.router import aws_router
from bot.sim.fakes.xray import FakeXRay
from tests.factories import base_scenario

SCENARIO = BUNDLED_SCENARIOS / "demo-model-throttling-retry-storm.yaml"


def test_investigate_offline_json_follows_the_contract(capsys):
    assert main(["investigate", "--scenario", str(SCENARIO), "--offline", "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["service"] == "claims-copilot"
    assert result["alarm"] == "claims-copilot-api-p95-latency"
    assert isinstance(result["evidence_tokens"], int) and result["evidence_tokens"] > 0
    hypotheses = result["hypotheses"]
    assert [h["confidence"] for h in hypotheses] == sorted(
        (h["confidence"] for h in hypotheses), reverse=True
    )
    assert set(hypotheses[0]) >= {
        "category",
        "confidence",
        "title",
        "evidence",
        "remediation",
        "runbook",
        "counter_evidence",
    }
    assert result["verdict"] == "determined" and result["separating"] == []
    assert hypotheses[0]["category"] == "model_throttling" and hypotheses[0]["confidence"] >= 0.5
    against = {h["category"]: h["counter_evidence"] for h in hypotheses}
    assert any("no deploy or configuration change" in line for line in against["bad_deployment"])


def test_investigate_offline_report_is_readable(capsys):
    assert main(["investigate", "--scenario", str(SCENARIO), "--offline"]) == 0
    out = capsys.readouterr().out
    assert "claims-copilot-api-p95-latency" in out and "Evidence" in out and "What to do" in out


def test_malformed_scenario_exits_2_naming_file_and_field(tmp_path: Path, capsys):
    data = base_scenario()
    data["logs"][0]["patterns"][0]["rate"] = "lots"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    assert main(["investigate", "--scenario", str(path), "--offline", "--json"]) == 2
    err = capsys.readouterr().err
    assert "broken.yaml" in err and "logs[0].patterns[0].rate" in err
    assert "Traceback" not in err


def test_malformed_catalog_exits_2(tmp_path: Path, capsys, monkeypatch):
    catalog = tmp_path / "catalog.yaml"
    catalog.write_text("services: [{team: x}]\n")
    monkeypatch.setenv("LLM_INCIDENT_CATALOG", str(catalog))
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    assert main(["investigate", "--alarm", "anything"]) == 2
    assert "catalog.yaml: services[0].name" in capsys.readouterr().err


def test_simulate_seeds_an_endpoint_and_prints_the_notification(moto_url, aws, capsys):
    assert main(["simulate", "--scenario", str(SCENARIO), "--endpoint-url", moto_url]) == 0
    notification = json.loads(capsys.readouterr().out)
    assert notification["Type"] == "Notification"
    message = json.loads(notification["Message"])
    assert (
        message["AlarmName"] == "claims-copilot-api-p95-latency"
        and message["NewStateValue"] == "ALARM"
    )
    cloudwatch = boto3.client(
        "cloudwatch",
        region_name="us-west-2",
        endpoint_url=moto_url,
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    [alarm] = cloudwatch.describe_alarms(AlarmNames=["claims-copilot-api-p95-latency"])[
        "MetricAlarms"
    ]
    assert alarm["StateValue"] == "ALARM"


def test_investigate_a_live_alarm_by_name(moto_url, aws, capsys, monkeypatch):
    assert main(["simulate", "--scenario", str(SCENARIO), "--endpoint-url", moto_url]) == 0
    capsys.readouterr()
    catalog = Path(__file__).parent.parent / "fixtures" / "catalog.yaml"
    monkeypatch.setenv("LLM_INCIDENT_CATALOG", str(catalog))
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_url)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
    assert (
        main(
            [
                "investigate",
                "--alarm",
                "claims-copilot-api-p95-latency",
                "--region",
                "us-west-2",
                "--json",
            ]
        )
        == 0
    )
    result = json.loads(capsys.readouterr().out)
    assert result["service"] == "claims-copilot"
    assert result["hypotheses"][0]["category"] == "model_throttling"


def test_runbooks_search(capsys):
    assert main(["runbooks", "AccessDeniedException"]) == 0
    assert capsys.readouterr().out.splitlines()[0].startswith("access-denied")
    assert main(["runbooks", "zzzqqq"]) == 1


def test_demo_plays_offline_and_writes_the_chart(tmp_path: Path, capsys):
    assert main(["demo", "--output", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "Analysis" in out and "👍" in out
    [chart] = tmp_path.glob("*.png")
    assert chart.read_bytes().startswith(b"\x89PNG")


def test_scenario_without_offline_is_refused(capsys):
    assert main(["investigate", "--scenario", str(SCENARIO)]) == 2
    assert "--offline" in capsys.readouterr().err


def test_missing_arguments_exit_2():
    with pytest.raises(SystemExit) as caught:
        main(["investigate"])
    assert caught.value.code == 2


@pytest.mark.parametrize(
    ("scenario", "category", "quoted"),
    [
        (
            "dependency-failure-agent-tool-timeouts-spans-only.yaml",
            "dependency_failure",
            "tool lookup_order (gen_ai.tool.name) errors 0% ->",
        ),
        (
            "token-cost-spike-agent-runaway-tool-loop-spans.yaml",
            "token_cost_spike",
            "agent steps per turn (chat spans per invoke_agent trace)",
        ),
    ],
)
def test_investigate_an_agents_live_alarm_reads_its_spans(
    moto_url, aws, capsys, monkeypatch, tmp_path, scenario, category, quoted
):
    """The live path for an OTel-instrumented agent: `simulate` seeds the account (spans
    into `aws/spans`), then `investigate --alarm` finds them where X-Ray says Transaction
    Search puts them and reads them with Logs Insights (the loopback fakes, moto behind)."""
    path = BUNDLED_SCENARIOS / scenario
    logs, xray = FakeLogs(), FakeXRay(destination="CloudWatchLogs")
    with serve(aws_router(moto_url, logs.handler, xray.handler)) as url:
        assert main(["simulate", "--scenario", str(path), "--endpoint-url", url]) == 0
        capsys.readouterr()
        service = yaml.safe_load(path.read_text())["service"]
        catalog = tmp_path / "catalog.yaml"
        catalog.write_text(yaml.safe_dump({"services": [service]}))
        monkeypatch.setenv("LLM_INCIDENT_CATALOG", str(catalog))
        monkeypatch.setenv("AWS_ENDPOINT_URL", url)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", "x")
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "x")
        alarm = yaml.safe_load(path.read_text())["alarm"]["name"]
        region = yaml.safe_load(path.read_text())["region"]
        assert main(["investigate", "--alarm", alarm, "--region", region, "--json"]) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["service"] == service["name"]
    top = result["hypotheses"][0]
    assert top["category"] == category
    assert any(quoted in line for line in top["evidence"]), top["evidence"]
    assert any(call["operation"] == "GetTraceSegmentDestination" for call in xray.calls)
    span_queries = [
        call["queryString"]
        for call in logs.calls
        if call["operation"] == "StartQuery" and call.get("logGroupNames") == ["aws/spans"]
    ]
    assert any("gen_ai.tool.name" in query for query in span_queries)
