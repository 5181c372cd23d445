"""The thread of an incident as on-call sees it while the bot is busy."""

import threading
from concurrent.futures import ThreadPoolExecutor

from bot.config import Settings
from bot.engine.catalog import Catalog
from bot.incidents.flow import Incidents, Runtime
from bot.ingest.alarms import parse_alarm_payload
from bot.sim.fakes.slack import fake_slack
from bot.sim.payloads import sns_notification
from bot.slack.threads import Poster, SlackThread, web_client
from bot.store import Store
from tests.factories import ALARM
from tests.fixtures.loopback import wait_for


class Busy(ThreadPoolExecutor):
    """Every analysis worker taken: work queues and does not start until released."""

    def __init__(self) -> None:
        super().__init__(max_workers=1)
        self.release = threading.Event()
        super().submit(self.release.wait)


def test_the_thread_opens_at_once_while_every_analysis_worker_is_busy(aws, db_url):
    with fake_slack() as slack:
        busy = Busy()
        runtime = Runtime(
            settings=Settings(_env_file=None, LLM_INCIDENT_DEFAULT_CHANNEL="#incidents"),
            store=Store(db_url),
            catalog=Catalog(),
            runbooks=[],
            aws=aws,
            thread=SlackThread(Poster(web_client("xoxb-test", slack.url + "/api/"))),
            executor=busy,
        )
        incidents = Incidents(runtime)
        for i, name in enumerate(["svc-a-errors", "svc-b-errors"]):
            alarm = ALARM.model_copy(update={"name": name, "dimensions": {}})
            notice = parse_alarm_payload(sns_notification(alarm, f"m-{i}"))
            assert incidents.receive(notice) == "opened"
        roots = wait_for(lambda: len(slack.methods("chat.postMessage")) == 2 or None, 10)
        assert roots
        texts = sorted(m["text"] for m in slack.methods("chat.postMessage"))
        assert texts == ["🚨 ALARM: svc-a-errors", "🚨 ALARM: svc-b-errors"]
        busy.release.set()
        busy.shutdown(wait=True)
        runtime.notes.shutdown(wait=True)
        progress = [m for m in slack.methods("chat.postMessage") if "thread_ts" in m]
    assert progress, "the analyses ran once a worker was free, in the same threads"
    assert len([m for m in slack.methods("chat.postMessage") if "thread_ts" not in m]) == 2
