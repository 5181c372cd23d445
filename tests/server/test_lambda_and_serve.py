import json
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from bot.cli.main import main
from bot.server import lambda_handler
from bot.sim.fakes.http import serve
from bot.sim.fakes.slack import signed_headers
from bot.sim.payloads import sns_notification
from tests.factories import ALARM
from tests.fixtures.lambda_env import SECRET


@pytest.fixture
def lambda_api(monkeypatch):
    """A loopback Lambda API that records the bot's asynchronous self-invocations."""
    invocations: list[dict] = []

    def handle(path: str, headers: dict, body: bytes):
        invocations.append(
            {
                "path": path,
                "type": headers.get("X-Amz-Invocation-Type"),
                "payload": json.loads(body),
            }
        )
        return 202, {"Content-Type": "application/json"}, b""

    with serve(handle) as url:
        monkeypatch.setenv("AWS_ENDPOINT_URL_LAMBDA", url)
        yield invocations


def api_gateway_event(body: str) -> dict:
    """A signed slash command as API Gateway hands it to the function."""
    headers = signed_headers(body, SECRET, "application/x-www-form-urlencoded")
    return {
        "httpMethod": "POST",
        "path": "/slack/events",
        "body": body,
        "isBase64Encoded": False,
        "headers": {key.lower(): value for key, value in headers.items()},
        "requestContext": {"httpMethod": "POST"},
    }


def test_lambda_answers_a_signed_slash_command(lambda_env, lambda_api):
    body = urlencode(
        {
            "command": "/llm-incident",
            "text": "help",
            "user_id": "U1",
            "team_id": "T1",
            "channel_id": "C1",
            "response_url": "http://127.0.0.1:9/x",
            "trigger_id": "t",
        }
    )
    event = api_gateway_event(body)
    context = SimpleNamespace(
        function_name="llm-incident",
        invoked_function_arn="arn:aws:lambda:us-east-1:1:function:llm-incident",
    )
    answer = lambda_handler.handler(event, context)
    assert answer["statusCode"] == 200 and "analyze" in answer["body"]
    [invocation] = lambda_api  # the work after the ack runs in a fresh invocation of itself
    assert invocation["type"] == "Event" and "llm-incident" in invocation["path"]


def test_lazy_command_work_runs_in_the_self_invocation(lambda_env, lambda_api):
    body = urlencode(
        {
            "command": "/llm-incident",
            "text": "runbooks throttling",
            "user_id": "U1",
            "team_id": "T1",
            "channel_id": "C1",
            "trigger_id": "t",
            "response_url": f"{lambda_env.url}/respond",
        }
    )
    event = api_gateway_event(body)
    context = SimpleNamespace(function_name="llm-incident", invoked_function_arn="arn")
    assert lambda_handler.handler(event, context)["statusCode"] == 200
    [invocation] = lambda_api
    lambda_handler.handler(invocation["payload"], context)
    [answer] = lambda_env.methods("respond")
    assert "model-throttling" in answer["text"]


def test_lambda_sqs_batch_reports_only_the_bad_record(lambda_env):
    records = [
        {
            "eventSource": "aws:sqs",
            "messageId": "good",
            "body": json.dumps(sns_notification(ALARM, "m-9")),
        },
        {"eventSource": "aws:sqs", "messageId": "bad", "body": "{}"},
    ]
    assert lambda_handler.handler({"Records": records}, None) == {
        "batchItemFailures": [{"itemIdentifier": "bad"}]
    }
    assert [m["channel"] for m in lambda_env.methods("chat.postMessage")][:1] == ["#incidents"]


@pytest.mark.parametrize(
    ("argv", "missing"),
    [
        (["serve", "--http"], "SLACK_BOT_TOKEN"),
        (["serve"], "SLACK_BOT_TOKEN"),
    ],
)
def test_serve_stops_with_one_line_naming_the_missing_setting(argv, missing, capsys, monkeypatch):
    monkeypatch.delenv("SLACK_BOT_TOKEN", raising=False)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and missing in err[0]


def test_socket_mode_needs_the_app_token(capsys, monkeypatch):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.delenv("SLACK_APP_TOKEN", raising=False)
    assert main(["serve"]) == 2
    assert "SLACK_APP_TOKEN" in capsys.readouterr().err


def test_a_schedule_resumes_an_analysis_whose_invocation_died(lambda_env):
    ctx, *_ = lambda_handler._bot()
    store = ctx.runtime.store
    delivery = store.incidents.record_alarm("sns:died", ALARM, "svc", timedelta(minutes=30))
    store.jobs.claim(delivery.job_id, "a-dead-invocation", timedelta(seconds=-1))  # timed out
    answer = lambda_handler.handler({"llm_incident": "recover"}, None)
    assert answer == {"task": "recover", "ran": True}
    analyses = [
        m
        for m in lambda_env.methods("chat.postMessage")
        if "feedback_up" in json.dumps(m.get("blocks"))
    ]
    assert len(analyses) == 1, "resumed and posted before the invocation returned"
    assert store.jobs.get(delivery.job_id).state == "done"
    assert lambda_handler.handler({"llm_incident": "nonsense"}, None)["error"] == "unknown task"


def test_each_invocation_leaves_its_metrics_as_emf_lines_on_stdout(lambda_env, capsys):
    records = [
        {
            "eventSource": "aws:sqs",
            "messageId": "emf",
            "body": json.dumps(sns_notification(ALARM, "m-emf")),
        }
    ]
    assert lambda_handler.handler({"Records": records}, None) == {"batchItemFailures": []}
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if "_aws" in line]
    names = {
        metric["Name"]
        for line in lines
        for directive in line["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }
    assert {"llm_incident.incidents.opened", "llm_incident.analyses"} <= names, names
    assert all(isinstance(line["_aws"]["Timestamp"], int) for line in lines)
