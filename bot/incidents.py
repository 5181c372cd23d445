"""Alarm -> incident -> thread -> analysis: the flow every entry point shares.

An alarm delivery is recorded before anything else (its key makes a repeat a
no-op), then grouped: an alarm of a service with an open incident inside the
grouping window joins it instead of opening a thread of its own. The root message
is posted at once; the investigation runs in a bounded pool and edits its
progress message in place until the analysis is posted.
"""

from __future__ import annotations

import logging
import re
import time
from concurrent.futures import Executor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bot.agent import Agent
from bot.alarms import AlarmNotice
from bot.catalog import Catalog
from bot.chart import metric_chart
from bot.config import Settings
from bot.evidence import SOURCES
from bot.investigate import describe_alarm, gather_options, investigate
from bot.models import Alarm, AlarmState, ServiceEntry
from bot.runbooks import Runbook, by_category
from bot.slack import blocks
from bot.slack.threads import Poster, Progress
from bot.store import Store
from tools.aws import AwsClients

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What the flow needs, built once at the edge (serve, the Lambda handler, a test)."""

    settings: Settings
    store: Store
    catalog: Catalog
    runbooks: list[Runbook]
    aws: AwsClients
    poster: Poster
    executor: Executor
    grouping_window: timedelta = timedelta(minutes=30)
    agent: Agent | None = None  # Claude confirms or corrects the triage when configured


class NoChannelError(RuntimeError):
    """Neither the service's catalog entry nor LLM_INCIDENT_DEFAULT_CHANNEL names a channel."""


class Incidents:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime

    def channel_for(self, service: ServiceEntry | None) -> str:
        channel = (service.slack_channel if service else None) or self.rt.settings.default_channel
        if not channel:
            raise NoChannelError(
                "no slack_channel in the catalog and no LLM_INCIDENT_DEFAULT_CHANNEL"
            )
        return channel

    def receive(self, notice: AlarmNotice) -> str:
        """Handle one alarm delivery; returns what happened (for logs and tests)."""
        alarm = notice.alarm
        if not self.rt.store.first_delivery(notice.key, alarm.name, alarm.state.value):
            return "duplicate"
        service = self.rt.catalog.resolve(alarm)
        name = service.name if service else alarm.name
        current = self.rt.store.open_incident(name, self.rt.grouping_window)
        if alarm.state is AlarmState.OK:
            if current is None or current.alarm_name != alarm.name:
                return "ignored"
            self._resolve(current.id, alarm)
            return "resolved"
        if alarm.state is not AlarmState.ALARM:
            return "ignored"
        if current is not None:
            self.rt.store.link_delivery(notice.key, current.id)
            if current.channel and current.root_ts and current.alarm_name != alarm.name:
                self.rt.poster.post(
                    current.channel,
                    f"Also firing: {alarm.name} ({alarm.reason[:200]})",
                    thread_ts=current.root_ts,
                )
            return "grouped"
        incident_id, channel, ts = self.open(alarm, service)
        self.rt.store.link_delivery(notice.key, incident_id)
        self.rt.executor.submit(self._safely, incident_id, alarm, service, channel, ts)
        return "opened"

    def open(self, alarm: Alarm, service: ServiceEntry | None) -> tuple[int, str, str]:
        """Store the incident, then post its root message."""
        name = service.name if service else alarm.name
        incident = self.rt.store.create_incident(name, alarm.name, alarm.model_dump(mode="json"))
        channel = self.channel_for(service)
        channel_id, ts = self.rt.poster.post(
            channel, f"🚨 {alarm.state.value}: {alarm.name}", blocks.root_message(alarm, name)
        )
        self.rt.store.update_incident(incident.id, channel=channel_id, root_ts=ts)
        return incident.id, channel_id, ts

    def _resolve(self, incident_id: int, alarm: Alarm) -> None:
        incident = self.rt.store.incident(incident_id)
        self.rt.store.update_incident(incident_id, status="resolved", resolved_at=datetime.now(UTC))
        if incident and incident.channel and incident.root_ts:
            self.rt.poster.post(
                incident.channel, blocks.resolved_message(alarm), thread_ts=incident.root_ts
            )
            first = Alarm.model_validate(incident.alarm)
            self.rt.poster.update(
                incident.channel,
                incident.root_ts,
                f"✅ RESOLVED: {first.name}",
                blocks.root_message(first, incident.service, resolved=True),
            )

    def _safely(self, *args: object) -> None:
        try:
            self.analyze(*args)  # type: ignore[arg-type]
        except Exception:
            log.exception("investigation failed")

    def analyze(
        self,
        incident_id: int,
        alarm: Alarm,
        service: ServiceEntry | None,
        channel: str,
        thread_ts: str,
        question: str | None = None,
    ) -> int:
        """Investigate and post the analysis into the thread; returns the analysis id."""
        began = time.monotonic()
        sources = [
            s for s in SOURCES if s != "guardrails" or (service and service.bedrock.guardrails)
        ]
        text, body = blocks.progress_message(dict.fromkeys(sources, "waiting"))
        channel, progress_ts = self.rt.poster.post(channel, text, body, thread_ts=thread_ts)
        self.rt.store.update_incident(incident_id, progress_ts=progress_ts)
        investigation, bundle = investigate(
            self.rt.aws,
            alarm,
            service,
            self.rt.runbooks,
            options=gather_options(self.rt.settings),
            progress=Progress(self.rt.poster, channel, progress_ts, sources),
            agent=self.rt.agent,
        )
        analysis = self.rt.store.add_analysis(
            incident_id, investigation, bundle.render(), time.monotonic() - began
        )
        if bundle.alarm_series and bundle.alarm_series.points:
            png = metric_chart(
                alarm,
                bundle.alarm_series.points,
                bundle.window.onset,
                bundle.alarm_series.statistic,
            )
            try:
                self.rt.poster.upload_png(
                    channel,
                    thread_ts,
                    f"{_slug(alarm.name)}.png",
                    png,
                    f"{alarm.metric} around the alarm",
                )
            except Exception as exc:
                log.warning("chart upload failed: %s", exc)
        top = investigation.top
        runbook = by_category(self.rt.runbooks).get(top.category) if top else None
        text, body = blocks.analysis_message(
            investigation,
            alarm,
            analysis.id,
            runbook=runbook,
            log_groups=service.all_log_groups() if service else [],
        )
        _, ts = self.rt.poster.post(channel, text, body, thread_ts=thread_ts)
        self.rt.store.set_analysis_message(analysis.id, channel, ts)
        return analysis.id

    def find_alarm(self, target: str) -> tuple[Alarm | None, ServiceEntry | None]:
        """An alarm by name, or the firing (else latest) alarm of a service by name."""
        alarm = describe_alarm(self.rt.aws, target)
        if alarm is not None:
            return alarm, self.rt.catalog.resolve(alarm)
        service = self.rt.catalog.find(target)
        prefix = service.name if service else target
        page = self.rt.aws.client("cloudwatch").describe_alarms(
            AlarmNamePrefix=prefix, AlarmTypes=["MetricAlarm"]
        )
        found = page.get("MetricAlarms", [])
        if not found:
            return None, service
        found.sort(key=lambda a: (a.get("StateValue") == "ALARM", a["StateUpdatedTimestamp"]))
        alarm = describe_alarm(self.rt.aws, found[-1]["AlarmName"])
        return alarm, service or (self.rt.catalog.resolve(alarm) if alarm else None)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name)[:80] or "alarm"
