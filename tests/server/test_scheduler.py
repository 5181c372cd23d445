import json
import time
from datetime import timedelta

from bot.config import Settings
from bot.engine.catalog import Catalog
from bot.incidents.flow import Incidents, Runtime
from bot.server.intake import Intake
from bot.server.runtime import InlineExecutor
from bot.server.scheduler import poll_once
from bot.sim.fakes.slack import fake_slack
from bot.sim.payloads import eventbridge_event, sns_notification
from bot.slack.threads import Poster, SlackThread, web_client
from bot.store import Store
from tests.factories import ALARM
from tests.fixtures.executors import Recorded


def test_queue_messages_become_one_incident_and_are_deleted_once_stored(aws, db_url):
    sqs = aws.client("sqs")
    queue = sqs.create_queue(QueueName="alarms", Attributes={"VisibilityTimeout": "0"})["QueueUrl"]
    sns_body = json.dumps(sns_notification(ALARM, "m-1"))
    sqs.send_message(QueueUrl=queue, MessageBody=sns_body)
    sqs.send_message(QueueUrl=queue, MessageBody=sns_body)  # SNS delivered it twice
    sqs.send_message(QueueUrl=queue, MessageBody=json.dumps(eventbridge_event(ALARM, "e-1")))
    sqs.send_message(QueueUrl=queue, MessageBody="not an alarm")
    with fake_slack() as slack:
        runtime = Runtime(
            settings=Settings(LLM_INCIDENT_DEFAULT_CHANNEL="#incidents"),
            store=Store(db_url),
            catalog=Catalog(),
            runbooks=[],
            aws=aws,
            thread=SlackThread(Poster(web_client("xoxb-test", slack.url + "/api/"))),
            executor=Recorded(),
            notes=InlineExecutor(),  # the root message is posted before the job is queued
            grouping_window=timedelta(minutes=30),
        )
        incidents = Incidents(runtime)
        counts = poll_once(sqs, queue, incidents, wait_seconds=0)
        assert counts == {"received": 4, "handled": 3, "skipped": 0, "rejected": 1}
        [job] = runtime.executor.submitted
        incidents.run_job(*job)
        roots = [m for m in slack.methods("chat.postMessage") if "thread_ts" not in m]
    assert len(roots) == 1 and roots[0]["channel"] == "#incidents"
    left = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in left] == ["not an alarm"], (
        "only the unusable message stays for the DLQ"
    )


def test_an_idle_long_poll_ends_before_the_clients_read_timeout():
    """SQS holds a long poll for WaitTimeSeconds: a poll asking longer than the client
    waits for an answer would end in a ReadTimeout every idle second. The wait asked
    stays under the client's read timeout (a loopback SQS that really holds the poll)."""
    import boto3
    from botocore.config import Config

    from bot.server.scheduler import LONG_POLL_SECONDS
    from bot.sim.fakes.http import serve
    from tools.aws import AwsClients

    asked: list[int] = []

    def sqs(path, headers, body):
        request = json.loads(body or b"{}")
        asked.append(int(request.get("WaitTimeSeconds", 0)))
        time.sleep(min(request.get("WaitTimeSeconds", 0), 8))
        return 200, {"Content-Type": "application/x-amz-json-1.0"}, b"{}"

    with serve(sqs) as url:
        client = boto3.client(
            "sqs",
            region_name="us-east-1",
            endpoint_url=url,
            aws_access_key_id="x",
            aws_secret_access_key="x",
            config=Config(read_timeout=7, retries={"max_attempts": 1}),
        )
        began = time.monotonic()
        nothing_taken = object.__new__(Intake)  # no message comes: nothing is taken
        counts = poll_once(client, f"{url}/1/q", nothing_taken)
    assert counts["received"] == 0 and asked == [2] and time.monotonic() - began < 7
    bot_sqs = AwsClients("us-east-1").client("sqs")
    assert bot_sqs.meta.config.read_timeout > LONG_POLL_SECONDS, "the bot's own polls are whole"
