"""An incident report made from Slack's side: the thread read with `conversations.replies`,
the alarm metric's chart drawn again over the whole incident, and the Markdown posted
back into the thread as a file (with the chart beside it).

Used by `/llm-incident report`, by `@llm-incident report` in a thread, and by the command
line's `llm-incident report`, which prints the Markdown instead of posting it.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.incidents.report import (
    Chart,
    ThreadMessage,
    incident_record,
    render_report,
    thread_messages,
)
from bot.models import Alarm
from bot.slack.chart import metric_chart
from bot.slack.threads import Poster
from bot.store import Store
from tools import metrics
from tools.aws import AwsClients, describe_error

log = logging.getLogger(__name__)
MAX_PAGES = 20  # 200 messages a page: a thread longer than 4,000 messages is cut
CHART_BEFORE = timedelta(minutes=30)
CHART_AFTER = timedelta(minutes=15)
MAX_CHART = timedelta(hours=24)


@dataclass
class Report:
    incident_id: int
    markdown: str
    chart_png: bytes | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def filename(self) -> str:
        return f"incident-{self.incident_id}-report.md"

    @property
    def chart_name(self) -> str:
        return f"incident-{self.incident_id}-chart.png"

    def files(self) -> list[dict]:
        found = [
            {
                "filename": self.filename,
                "content": self.markdown.encode(),
                "title": "Incident report",
            }
        ]
        if self.chart_png:
            found.append(
                {"filename": self.chart_name, "content": self.chart_png, "title": "Alarm metric"}
            )
        return found


def read_thread(
    client: WebClient, channel: str, ts: str
) -> tuple[list[ThreadMessage] | None, list[str]]:
    """The thread's messages, root first; None with the reason when Slack refuses."""
    raw: list[dict] = []
    cursor: str | None = None
    try:
        for _ in range(MAX_PAGES):
            page = client.conversations_replies(channel=channel, ts=ts, limit=200, cursor=cursor)
            raw += page.get("messages") or []
            cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
            if not cursor:
                break
    except SlackApiError as exc:
        error = exc.response.get("error") if exc.response is not None else str(exc)
        return None, [f"conversations.replies failed: {error}"]
    messages, bad = thread_messages(raw)
    notes = [f"{bad} message(s) of the thread could not be read"] if bad else []
    if cursor:
        notes.append(f"the thread was cut after {len(raw)} messages")
    return messages, notes


def alarm_chart(
    aws: AwsClients, alarm: Alarm, onset: datetime | None, end: datetime
) -> tuple[bytes | None, Chart | None, str | None]:
    """The alarm's metric from before the onset to after the resolution, drawn; or why not."""
    start = min(filter(None, [onset, alarm.changed_at])) - CHART_BEFORE
    end = min(end + CHART_AFTER, start + MAX_CHART)
    ref = metrics.MetricRef(
        namespace=alarm.namespace, name=alarm.metric, dimensions=alarm.dimensions
    )
    try:
        fetched, _ = metrics.fetch_points(
            aws, [ref], start, end, period=alarm.period, statistic=alarm.statistic
        )
    except Exception as exc:
        return None, None, f"the alarm's metric could not be read: {describe_error(exc)}"
    if not fetched or not fetched[0][2]:
        return None, None, "the alarm's metric has no datapoints over the incident"
    _, statistic, points = fetched[0]
    png = metric_chart(alarm, points, onset, statistic)
    return png, Chart(filename="", points=points, statistic=statistic), None


def make_report(
    store: Store,
    incident_id: int,
    *,
    client: WebClient | None,
    aws: AwsClients | None,
    now: datetime | None = None,
) -> Report | None:
    """The report of one incident; None when there is no such incident."""
    record = incident_record(store, incident_id)
    if record is None:
        return None
    now = now or datetime.now(UTC)
    incident, notes = record.incident, []
    messages: list[ThreadMessage] | None = None
    bot_user = link = None
    if client is None:
        notes.append("no Slack token")
    elif not (incident.channel and incident.root_ts):
        notes.append("the incident has no thread")
    else:
        messages, said = read_thread(client, incident.channel, incident.root_ts)
        notes += said
        try:
            bot_user = client.auth_test().get("user_id")
            link = client.chat_getPermalink(
                channel=incident.channel, message_ts=incident.root_ts
            ).get("permalink")
        except SlackApiError as exc:
            log.warning("report: no bot identity or thread link: %s", exc)
    png = chart = None
    if aws is not None:
        onset = record.analyses[-1].investigation.onset if record.analyses else None
        png, chart, why = alarm_chart(aws, record.alarm, onset, incident.resolved_at or now)
        if why:
            notes.append(why)
    report = Report(incident_id, "", png, notes)
    if chart is not None:
        chart.filename = report.chart_name
    report.markdown = render_report(
        record, messages, now=now, bot_user=bot_user, chart=chart, link=link, notes=notes
    )
    return report


def post_report(poster: Poster, channel: str, thread_ts: str, report: Report) -> None:
    """The report (and its chart) as one message of files in the incident's thread."""
    poster.upload(channel, thread_ts, report.files())


_THREAD_LINK = re.compile(r"/archives/(?P<channel>[A-Z0-9]+)/p(?P<ts>\d{16})")


def thread_of_link(text: str) -> tuple[str, str] | None:
    """A Slack message link -> (channel, ts): `…/archives/C123/p1700000000000100`."""
    match = _THREAD_LINK.search(text)
    if not match:
        return None
    digits = match.group("ts")
    return match.group("channel"), f"{digits[:10]}.{digits[10:]}"
