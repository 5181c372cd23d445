import json
from datetime import timedelta

from bot.config import Settings
from bot.engine.catalog import Catalog
from bot.incidents.flow import Incidents, Runtime
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
