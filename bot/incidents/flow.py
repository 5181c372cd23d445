"""Alarm -> incident -> thread -> analysis: the flow every entry point shares.

An alarm delivery is stored and grouped in one transaction before it is
acknowledged (its key makes a repeat a no-op; an alarm of a service with an
incident inside the grouping window joins it). Everything Slack sees happens
after the acknowledgement, in an analysis job: root message, live progress, chart,
analysis. A job is claimed under a lease its worker keeps renewing; a job whose
process died is claimed again by the next sweep and resumes after the last step
it finished, so a crash mid-analysis still ends in exactly one analysis message.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
import weakref
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from bot.agent.loop import Agent
from bot.config import Settings
from bot.engine.catalog import Catalog
from bot.engine.evidence import SOURCES
from bot.engine.investigate import describe_alarm, gather_options, investigate
from bot.engine.memory import changes_of
from bot.engine.runbooks import Runbook, by_category
from bot.errors import LlmIncidentError
from bot.incidents.thread import IncidentThread
from bot.ingest.alarms import AlarmNotice
from bot.models import Alarm, Investigation, PastIncident, ServiceEntry
from bot.observe.stats import first_analysis_id
from bot.observe.telemetry import Telemetry
from bot.store import Analysis, AnalysisJob, Delivery, Incident, Store
from tools.aws import AwsClients

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3  # a job failing this often is given up, with a note in its thread


def process_id() -> str:
    """Who owns a job or lease: unique per process, readable in the database."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


@dataclass
class Runtime:
    """What the flow needs, built once at the edge (serve, the Lambda handler, a test)."""

    settings: Settings
    store: Store
    catalog: Catalog
    runbooks: list[Runbook]
    aws: AwsClients
    thread: IncidentThread  # where incidents are told: the Slack thread
    executor: Executor  # analyses: a bounded pool
    grouping_window: timedelta = timedelta(minutes=30)
    agent: Agent | None = None  # Claude confirms or corrects the triage when configured
    job_lease: timedelta = timedelta(seconds=60)
    owner: str = field(default_factory=process_id)
    # Root messages and thread notes must not wait behind long analyses; a thread per
    # channel being paced at once keeps one busy channel from holding up the others.
    notes: Executor = field(
        default_factory=lambda: ThreadPoolExecutor(max_workers=8, thread_name_prefix="notes")
    )
    telemetry: Telemetry = field(default_factory=Telemetry.disabled)
    # A link to a message (channel, ts), for "Seen before"; None where there is no Slack.
    permalink: Callable[[str, str], str | None] | None = None


class NoChannelError(LlmIncidentError):
    """Neither the service's catalog entry nor LLM_INCIDENT_DEFAULT_CHANNEL names a channel."""


class Incidents:
    def __init__(self, runtime: Runtime) -> None:
        self.rt = runtime
        # One root post per incident at a time in this process (the thread opener and a
        # job, or two requests, may reach an incident without a root at once).
        self._root_locks: weakref.WeakValueDictionary[int, threading.Lock] = (
            weakref.WeakValueDictionary()
        )
        self._locks_lock = threading.Lock()

    def channel_for(self, service: ServiceEntry | None) -> str:
        channel = (service.slack_channel if service else None) or self.rt.settings.default_channel
        if not channel:
            raise NoChannelError(
                "no slack_channel in the catalog and no LLM_INCIDENT_DEFAULT_CHANNEL"
            )
        return channel

    # -- intake ----------------------------------------------------------------------
    def receive(self, notice: AlarmNotice) -> str:
        """Store one alarm delivery, then schedule what Slack should see; returns what
        happened (for logs, metrics and tests). Returns only once the alarm is stored."""
        alarm = notice.alarm
        service = self.rt.catalog.resolve(alarm)
        name = service.name if service else alarm.name
        delivery = self.rt.store.incidents.record_alarm(
            notice.key, alarm, name, self.rt.grouping_window
        )
        incident = delivery.incident
        if delivery.outcome == "opened":
            self.rt.telemetry.incident_opened(name)
        if delivery.job_id is not None:
            self.rt.notes.submit(self._open_thread, delivery.job_id)
        elif incident is not None and (delivery.newcomer or delivery.outcome != "grouped"):
            self.rt.notes.submit(self._note_safely, delivery, alarm)
        return delivery.outcome

    def request(self, alarm: Alarm, service: ServiceEntry | None, question: str | None) -> Delivery:
        """An analysis someone asked for: into the service's incident thread, or a new one."""
        name = service.name if service else alarm.name
        delivery = self.rt.store.incidents.request_analysis(
            alarm, name, self.rt.grouping_window, question or None
        )
        assert delivery.job_id is not None  # noqa: S101 - request_analysis always makes one
        self.rt.notes.submit(self._open_thread, delivery.job_id)
        return delivery

    def thread_of(self, incident_id: int, timeout_s: float = 20.0) -> tuple[str, str] | None:
        """(channel, root ts) of an incident once its root message is posted."""
        deadline = time.monotonic() + timeout_s
        while True:
            incident = self.rt.store.incidents.get(incident_id)
            if incident and incident.channel and incident.root_ts:
                return incident.channel, incident.root_ts
            if time.monotonic() > deadline:
                return None
            time.sleep(0.1)

    def _open_thread(self, job_id: int) -> None:
        """Post the root message at once, then queue the analysis: the thread appears
        within a second even while every analysis worker is busy. (Should this fail, the
        job posts the root itself.)"""
        try:
            job = self.rt.store.jobs.get(job_id)
            incident = self.rt.store.incidents.get(job.incident_id) if job else None
            if incident is not None:
                alarm = Alarm.model_validate(incident.alarm)
                self._ensure_root(incident, alarm, self.rt.catalog.resolve(alarm))
        except Exception:
            log.exception("posting the root message of job %d failed", job_id)
        finally:
            self.submit(job_id)

    def submit(self, job_id: int) -> None:
        self.rt.executor.submit(self._run_safely, job_id)

    def recover(self) -> int:
        """Resubmit the jobs a dead process left behind; returns how many."""
        # A queued job may wait behind a storm's backlog: only one queued far longer than
        # a backlog takes is taken as left behind by a dead process.
        stale = self.rt.store.jobs.stale(queued_for=self.rt.job_lease * 5)
        for job_id in stale:
            log.warning("resuming analysis job %d left by a stopped process", job_id)
            self.submit(job_id)
        return len(stale)

    # -- thread notes ------------------------------------------------------------------
    def _note_safely(self, delivery: Delivery, alarm: Alarm) -> None:
        try:
            self._note(delivery, alarm)
        except Exception:
            log.exception("posting a note for %s failed", alarm.name)

    def _note(self, delivery: Delivery, alarm: Alarm) -> None:
        """A re-fired or resolved alarm is told in its incident's thread, and the root
        message shows every alarm that joined; before the root message exists, the root
        message itself will say it."""
        incident = self.rt.store.incidents.get(delivery.incident.id) if delivery.incident else None
        if incident is None or not (incident.channel and incident.root_ts):
            return
        first = Alarm.model_validate(incident.alarm)
        # A newly joined alarm only extends the root's "Also firing" list (an edit, not a
        # new message: a storm of related alarms stays one readable thread).
        if delivery.outcome == "resolved":
            self.rt.thread.resolved(incident.channel, incident.root_ts, alarm)
        elif delivery.outcome == "refired":
            self.rt.thread.refired(incident.channel, incident.root_ts, alarm, incident.flaps)
        also = [n for n in self.rt.store.incidents.firing_alarms(incident.id) if n != first.name]
        self.rt.thread.refresh_root(
            incident.channel,
            incident.root_ts,
            first,
            incident.service,
            resolved=incident.status == "resolved",
            also_firing=also,
        )

    # -- analysis jobs -----------------------------------------------------------------
    def _run_safely(self, job_id: int) -> None:
        try:
            self.run_job(job_id)
        except Exception:
            log.exception("analysis job %d failed", job_id)

    def run_job(self, job_id: int) -> int | None:
        """Claim a job and carry it to its posted analysis; returns the analysis id (None
        when another worker holds the job). Safe to call again after a crash."""
        job = self.rt.store.jobs.claim(job_id, self.rt.owner, self.rt.job_lease)
        if job is None:
            return None
        try:
            with self._heartbeat(job_id):
                analysis_id = self._work(job)
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"[:500]
            if job.attempts < MAX_ATTEMPTS:
                self.rt.store.jobs.requeue(job_id, reason)
            else:
                self.rt.store.jobs.finish(job_id, "failed", reason)
                self._tell_failure(job, reason)
            raise
        self.rt.store.jobs.finish(job_id)
        return analysis_id

    @contextmanager
    def _heartbeat(self, job_id: int) -> Iterator[None]:
        """Renew the job's lease while it runs, so only a dead worker's job looks stale."""
        stop = threading.Event()

        def beat() -> None:
            while not stop.wait(self.rt.job_lease.total_seconds() / 3):
                try:
                    self.rt.store.jobs.renew(job_id, self.rt.owner, self.rt.job_lease)
                except Exception as exc:
                    log.warning("renewing job %d failed: %s", job_id, exc)

        thread = threading.Thread(target=beat, name=f"lease-{job_id}", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()

    def _work(self, job: AnalysisJob) -> int:
        incident = self.rt.store.incidents.get(job.incident_id)
        assert incident is not None  # noqa: S101 - a foreign key
        alarm = Alarm.model_validate(incident.alarm)
        service = self.rt.catalog.resolve(alarm)
        channel, root_ts = self._ensure_root(incident, alarm, service)
        analysis = self.rt.store.analyses.for_job(job.id)
        if analysis is None:
            analysis = self._investigate(job, incident, alarm, service, channel, root_ts)
        if analysis.message_ts is None:
            self._post_analysis(analysis, alarm, service, channel, root_ts)
        return analysis.id

    def _ensure_root(
        self, incident: Incident, alarm: Alarm, service: ServiceEntry | None
    ) -> tuple[str, str]:
        if incident.channel and incident.root_ts:
            return incident.channel, incident.root_ts
        with self._locks_lock:
            lock = self._root_locks.setdefault(incident.id, threading.Lock())
        with lock:
            fresh = self.rt.store.incidents.get(incident.id)
            if fresh is not None and fresh.channel and fresh.root_ts:
                return fresh.channel, fresh.root_ts
            return self._post_root(fresh or incident, alarm, service)

    def _post_root(
        self, incident: Incident, alarm: Alarm, service: ServiceEntry | None
    ) -> tuple[str, str]:
        also = [n for n in self.rt.store.incidents.firing_alarms(incident.id) if n != alarm.name]
        channel_id, ts = self.rt.thread.open(
            self.channel_for(service),
            alarm,
            incident.service,
            resolved=incident.status == "resolved",
            also_firing=also,
            key=f"root:{incident.id}:{incident.opened_at.timestamp():.6f}",
        )
        self.rt.store.incidents.update(incident.id, channel=channel_id, root_ts=ts)
        return channel_id, ts

    def _investigate(
        self,
        job: AnalysisJob,
        incident: Incident,
        alarm: Alarm,
        service: ServiceEntry | None,
        channel: str,
        thread_ts: str,
    ) -> Analysis:
        began = time.monotonic()
        sources = [
            s
            for s in SOURCES
            if (s != "guardrails" or (service and service.bedrock.guardrails))
            and (s != "spans" or service)  # spans are read for a catalog service only
        ]
        progress_ts, progress = self.rt.thread.start_progress(
            channel, thread_ts, sources, job.progress_ts, key=f"progress:{job.id}"
        )
        if job.progress_ts is None:
            self.rt.store.jobs.set_progress(job.id, progress_ts)
        investigation, bundle = investigate(
            self.rt.aws,
            alarm,
            service,
            self.rt.runbooks,
            options=gather_options(self.rt.settings),
            progress=progress,
            agent=self.rt.agent,
            telemetry=self.rt.telemetry,
            incident_id=incident.id,
            past=self.rt.store.memory.past(incident.service, exclude_incident=incident.id),
            max_prior=self.rt.settings.memory_max_prior,
        )
        investigation.seen_before = [self._linked(p) for p in investigation.seen_before]
        analysis = self.rt.store.analyses.add(
            incident.id, investigation, bundle.render(), time.monotonic() - began, job.id
        )
        if investigation.fingerprint is not None:
            self.rt.store.memory.remember(
                analysis.id,
                incident.id,
                incident.service,
                investigation.fingerprint,
                changes_of(bundle),
            )
        self.rt.thread.attach(channel, thread_ts, alarm, bundle)
        return analysis

    def _linked(self, past: PastIncident) -> PastIncident:
        """A past incident with a link to its thread, when Slack gives one."""
        old = self.rt.store.incidents.get(past.incident_id)
        if self.rt.permalink is None or old is None or not (old.channel and old.root_ts):
            return past
        try:
            link = self.rt.permalink(old.channel, old.root_ts)
        except Exception as exc:  # a link is a nicety; the analysis goes on without it
            log.warning("no link to the thread of incident %d: %s", past.incident_id, exc)
            return past
        return past.model_copy(update={"link": link}) if link and link.startswith("http") else past

    def _post_analysis(
        self,
        analysis: Analysis,
        alarm: Alarm,
        service: ServiceEntry | None,
        channel: str,
        thread_ts: str,
    ) -> None:
        investigation = Investigation.model_validate(analysis.investigation)
        top = investigation.top
        runbook = by_category(self.rt.runbooks).get(top.category) if top else None
        ts = self.rt.thread.post_analysis(
            channel,
            thread_ts,
            investigation,
            alarm,
            analysis.id,
            runbook,
            service.all_log_groups() if service else [],
        )
        self.rt.store.analyses.set_message(analysis.id, channel, ts)
        if first_analysis_id(self.rt.store, analysis.incident_id) == analysis.id:
            now = datetime.now(UTC)
            t0 = alarm.changed_at if alarm.changed_at <= now else None
            if t0 is None and (incident := self.rt.store.incidents.get(analysis.incident_id)):
                t0 = incident.opened_at
            if t0 is not None:
                self.rt.telemetry.first_analysis((now - t0).total_seconds(), analysis.source)

    def _tell_failure(self, job: AnalysisJob, reason: str) -> None:
        incident = self.rt.store.incidents.get(job.incident_id)
        if incident and incident.channel and incident.root_ts:
            try:
                self.rt.thread.failed(incident.channel, incident.root_ts, job.attempts, reason)
            except Exception as exc:
                log.warning("could not tell the thread about the failure: %s", exc)

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
