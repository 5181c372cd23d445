import json
from datetime import timedelta
from types import SimpleNamespace
from urllib.parse import urlencode

import pytest

from bot.cli.main import main
from bot.server import lambda_handler
from bot.sim.fakes.http import serve
from bot.sim.fakes.slack import signed_headers
from bot.sim.payloads import (
    alarm_action_event,
    eventbridge_event,
    lambda_sns_event,
    lambda_sqs_event,
    sns_notification,
)
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


@pytest.fixture
def lambda_extra_env() -> dict[str, str]:
    return {"LLM_INCIDENT_ALLOWED_ACCOUNTS": "111122223333"}


def emf_metrics(out: str) -> dict[str, float]:
    """The metric values in the EMF lines an invocation printed, summed by name."""
    found: dict[str, float] = {}
    for line in out.splitlines():
        if '"_aws"' not in line:
            continue
        record = json.loads(line)
        for directive in record["_aws"]["CloudWatchMetrics"]:
            for metric in directive["Metrics"]:
                found[metric["Name"]] = found.get(metric["Name"], 0) + record[metric["Name"]]
    return found


def roots(slack) -> list[dict]:
    return [m for m in slack.methods("chat.postMessage") if "thread_ts" not in m]


def test_a_lambda_subscribed_to_the_topic_takes_every_record(lambda_env):
    """SNS invokes the function with `Records[].Sns` (EventSource `aws:sns`): every record
    is an alarm, none goes to Slack's adapter."""
    other = ALARM.model_copy(update={"name": "quote-api-latency", "changed_at": ALARM.changed_at})
    event = lambda_sns_event([sns_notification(ALARM, "m-a"), sns_notification(other, "m-b")])
    answer = lambda_handler.handler(event, None)
    assert [a["status"] for a in answer["alarms"]] == ["stored", "stored"]
    assert [a["detail"] for a in answer["alarms"]] == ["opened", "opened"]
    assert len(roots(lambda_env)) == 2


def test_an_eventbridge_target_and_an_alarm_action_are_alarms(lambda_env):
    assert (
        lambda_handler.handler(eventbridge_event(ALARM, "e-1"), None)["alarms"][0]["detail"]
        == "opened"
    )
    later = ALARM.model_copy(update={"name": "quote-api-throttles"})
    answer = lambda_handler.handler(alarm_action_event(later), None)
    assert answer["alarms"][0]["detail"] in ("opened", "grouped")
    ctx, *_ = lambda_handler._bot()
    assert ctx.runtime.store.incidents.firing_alarms(ctx.runtime.store.incidents.list_open()[0].id)


def test_an_invocation_that_dropped_an_alarm_fails(lambda_env):
    """One record stored and one unreadable: the invocation raises, so Lambda retries it
    (the stored one is then a duplicate), and nothing claims success."""
    event = lambda_sns_event([sns_notification(ALARM, "m-ok")])
    broken = {
        **event["Records"][0],
        "Sns": {**event["Records"][0]["Sns"], "MessageId": "m-x", "Message": "{oops"},
    }
    event["Records"].append(broken)
    with pytest.raises(lambda_handler.DeliveryError, match="1 of 2 alarms not stored: m-x"):
        lambda_handler.handler(event, None)
    again = lambda_handler.handler(lambda_sns_event([sns_notification(ALARM, "m-ok")]), None)
    assert again["alarms"][0]["detail"] == "duplicate"


def test_an_event_of_no_known_shape_fails_instead_of_going_to_slack(lambda_env):
    with pytest.raises(lambda_handler.DeliveryError, match="not an alarm, a Slack request"):
        lambda_handler.handler({"hello": "world"}, None)
    assert lambda_env.calls == []


def test_an_event_from_another_account_is_a_counted_skip(lambda_env, capsys):
    foreign = ALARM.model_copy(
        update={
            "account": "999988887777",
            "arn": "arn:aws:cloudwatch:eu-west-1:999988887777:alarm:x",
        }
    )
    answer = lambda_handler.handler(eventbridge_event(foreign, "e-foreign"), None)
    assert answer["alarms"] == [
        {
            "item": "e-foreign",
            "status": "refused",
            "detail": "not allowed: account 999988887777 is not allowed",
        }
    ]
    assert emf_metrics(capsys.readouterr().out).get("llm_incident.alarms.skipped") == 1
    ctx, *_ = lambda_handler._bot()
    assert ctx.runtime.store.incidents.list_open() == [] and lambda_env.calls == []


def test_a_muted_alarm_and_another_services_event_are_skipped(lambda_env, capsys):
    muted = eventbridge_event(ALARM, "e-muted")
    muted["detail"]["muteDetail"] = {
        "mutedByArn": "arn:aws:cloudwatch:eu-west-1:111122223333:alarm-mute-rule:deploy"
    }
    [skipped] = lambda_handler.handler(muted, None)["alarms"]
    assert skipped["status"] == "skipped" and skipped["detail"].startswith("muted: mute rule")
    ec2 = {
        "version": "0",
        "id": "e-ec2",
        "detail-type": "EC2 Instance State-change Notification",
        "source": "aws.ec2",
        "account": "111122223333",
        "region": "eu-west-1",
        "detail": {"state": "stopped"},
    }
    [other] = lambda_handler.handler(ec2, None)["alarms"]
    assert other["status"] == "skipped" and other["detail"].startswith("not an alarm event")
    assert emf_metrics(capsys.readouterr().out).get("llm_incident.alarms.skipped") == 2
    assert lambda_env.calls == []


def test_an_sqs_batch_reports_a_skip_as_done_and_a_bad_body_as_failed(lambda_env):
    foreign = ALARM.model_copy(update={"account": "999988887777", "arn": ""})
    event = lambda_sqs_event(
        [
            json.dumps(eventbridge_event(foreign, "e-f")),
            "{bad",
            json.dumps(sns_notification(ALARM, "m-q")),
        ],
        "arn:aws:sqs:eu-west-1:111122223333:alarms",
    )
    answer = lambda_handler.handler(event, None)
    assert answer == {"batchItemFailures": [{"itemIdentifier": event["Records"][1]["messageId"]}]}
