"""Gather the evidence for one alarm: every source at once, under one deadline.

While the alarm's own metric is read for the onset (`bot.engine.onset`: when the
incident really began, often minutes before the alarm), all sources start fetching;
each splits what it fetched into baseline and recent once the onset is known. A source
that fails or is too slow becomes a "missing: why" line: an investigation always
completes.

Everything is read where the alarm's service lives: in the alarm's region, with the role
its catalog entry names (`bot.engine.catalog.target_clients`). A service calling Bedrock
through a cross-region inference profile has its Bedrock metrics and invocation log read
in the profile's other regions too, each series labelled with its region.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from bot.engine import agentcore
from bot.engine.catalog import bedrock_regions, target_clients
from bot.engine.onset import Onset, onset_of
from bot.engine.redact import redact
from bot.engine.span_source import read_spans
from bot.models import Alarm, ServiceEntry
from tools import changes, guardrails, logs, metric_discovery, metrics, traces
from tools.aws import AwsClients, describe_error
from tools.base import TimeRange, ToolError, ToolResult

log = logging.getLogger(__name__)

Progress = Callable[[str, str], None]
SOURCES = ("metrics", "logs", "traces", "spans", "guardrails", "changes")
# A source stops its own reads (and Logs Insights queries) this long before the gather's
# deadline, so it gives up cleanly rather than being abandoned mid-query.
GIVE_UP_MARGIN_S = 1.5
_TITLES = {
    "metrics": "Metrics (baseline before onset -> since onset)",
    "logs": "Log patterns (new, grown or gone since onset)",
    "traces": "X-Ray segments (before onset -> since onset)",
    "spans": "OpenTelemetry spans (before onset -> since onset)",
    "guardrails": "Guardrail interventions",
    "changes": "Changes (CloudTrail write events)",
}


@dataclass
class GatherOptions:
    lookback: timedelta = timedelta(minutes=90)
    change_lookback: timedelta = timedelta(hours=24)
    after_alarm: timedelta = timedelta(minutes=15)
    deadline_s: float = 30.0
    cloudtrail_log_group: str | None = "aws-cloudtrail-logs"


@dataclass
class EvidenceBundle:
    """What the sources said about one alarm, ready for triage and for an LLM."""

    alarm: Alarm
    service: ServiceEntry | None
    window: TimeRange
    onset_basis: str
    results: dict[str, ToolResult] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    timings: dict[str, float] = field(default_factory=dict)
    alarm_series: metrics.SeriesSummary | None = None  # the alarm's own metric, for charts

    @property
    def sampling(self) -> list[str]:
        """What each source says it read, where it read less than everything there was."""
        return [
            line
            for source in SOURCES
            if (result := self.results.get(source)) is not None
            for line in result.data.get("sampling", [])
        ]

    def render(self) -> str:
        """The bundle as compact, redacted text: what an LLM is handed."""
        alarm = self.alarm
        onset_gap = self.window.minutes_from_t0(self.window.onset)
        dims = ", ".join(f"{k}={v}" for k, v in alarm.dimensions.items())
        parts = [
            f"# Alarm {alarm.name} ({alarm.state.value}) at {alarm.changed_at:%Y-%m-%d %H:%M} UTC",
            f"{alarm.namespace} {alarm.metric} [{dims}] {alarm.statistic} "
            f"{alarm.comparison} {alarm.threshold:g}",
            f"reason: {alarm.reason[:400]}",
            f"service: {self.service.name if self.service else 'unknown (not in the catalog)'}",
            f"onset: {onset_gap:+.0f} min from T0 ({self.onset_basis})",
        ]
        for source in SOURCES:
            result = self.results.get(source)
            if result is None or not result.text:
                continue
            parts.append(f"\n## {_TITLES[source]}\n{result.text}")
            parts += [f"- note: {note}" for note in result.notes]
        if self.missing:
            parts.append("\n## Missing")
            parts += [f"- missing {source}: {why}" for source, why in self.missing.items()]
        return redact("\n".join(parts))

    @property
    def tokens(self) -> int:
        return estimate_tokens(self.render())


def estimate_tokens(text: str) -> int:
    """About four characters per token for English and log text."""
    return math.ceil(len(text) / 4)


Window = Callable[[], TimeRange]


def service_metrics(
    aws: AwsClients, service: ServiceEntry | None, alarm: Alarm, notes: list[str] | None = None
) -> list[metrics.MetricRef]:
    """The alarm's own series (each metric a math or anomaly alarm reads) and those that
    name one of the service's resources; a ListMetrics sweep cut short is noted."""
    own = [(alarm.namespace, alarm.metric, alarm.dimensions)]
    own += [(m.namespace, m.metric, m.dimensions) for m in alarm.metrics]
    refs = [
        metrics.MetricRef(namespace=namespace, name=name, dimensions=dimensions)
        for namespace, name, dimensions in own
        if namespace and name
    ]
    if not refs:
        return []
    if service is None:
        found = metric_discovery.discover(aws, refs[0], None, [])
    else:
        lookups = metric_discovery.resource_lookups(
            service.name,
            service.lambda_functions,
            service.bedrock.model_ids,
            [guardrail.id for guardrail in service.bedrock.guardrails],
            service.dependencies,
        ) + agentcore.runtime_lookups(service.agent_runtimes)
        found = metric_discovery.discover(
            aws, refs[0], service.name, service.resource_names(), lookups, notes
        )
    known = {ref.key for ref in found}
    return [*found, *(ref for ref in refs[1:] if ref.key not in known)]


def bedrock_series(aws: AwsClients, model_ids: list[str]) -> list[metrics.MetricRef]:
    """The AWS/Bedrock series of these models (inference profile or model ids) in the
    clients' region."""
    wanted = {m.rsplit("/", 1)[-1] for m in model_ids}
    bases = {m.split(".", 1)[1] for m in wanted if "." in m}
    found: list[metrics.MetricRef] = []
    paginator = aws.client("cloudwatch").get_paginator("list_metrics")
    for page in paginator.paginate(Namespace="AWS/Bedrock", PaginationConfig={"MaxItems": 2000}):
        for metric in page.get("Metrics", []):
            dimensions = {d["Name"]: d["Value"] for d in metric.get("Dimensions", [])}
            values = {v.rsplit("/", 1)[-1] for v in dimensions.values()}
            if values & wanted or any(base in v for v in values for base in bases):
                found.append(
                    metrics.MetricRef(
                        namespace="AWS/Bedrock", name=metric["MetricName"], dimensions=dimensions
                    )
                )
    return found[: metrics.MAX_SERIES]


def _in_region(ref: metrics.MetricRef, region: str) -> metrics.MetricRef:
    """A series of another region, labelled so that its lines say where it was read."""
    return ref.model_copy(update={"dimensions": {**ref.dimensions, "Region": region}})


def other_region_metrics(
    aws: AwsClients, service: ServiceEntry, regions: list[str], start: datetime, end: datetime
) -> tuple[metrics.Fetched, list[str]]:
    """The service's Bedrock series in each of `regions` (one failing region is a note)."""
    fetched: metrics.Fetched = []
    notes: list[str] = []

    def one(region: str) -> tuple[metrics.Fetched, list[str]]:
        there = aws.for_target(region=region, role_arn=aws.role_arn, external_id=aws.external_id)
        refs = bedrock_series(there, service.bedrock.model_ids)
        found, found_notes = metrics.fetch_points(there, refs, start, end) if refs else ([], [])
        return [(_in_region(ref, region), stat, points) for ref, stat, points in found], found_notes

    with ThreadPoolExecutor(max_workers=min(8, len(regions)), thread_name_prefix="regions") as pool:
        futures = {region: pool.submit(one, region) for region in regions}
    for region, future in futures.items():
        try:
            found, found_notes = future.result()
        except Exception as exc:
            notes.append(f"Bedrock metrics in {region} unreadable: {describe_error(exc)}")
            continue
        fetched += found
        notes += found_notes
    read = [r for r in regions if not any(n.startswith(f"Bedrock metrics in {r} ") for n in notes)]
    if read:
        notes.append(f"Bedrock metrics also read in {', '.join(read)} (cross-region inference)")
    return fetched, notes


def span_times(span: TimeRange) -> dict[str, datetime]:
    return {"start": span.start, "end": span.end, "onset": span.onset, "t0": span.t0}


def _jobs(
    aws: AwsClients,
    alarm: Alarm,
    service: ServiceEntry | None,
    span: TimeRange,
    window: Window,
    opts: GatherOptions,
    deadline: float | None = None,
) -> dict[str, Callable[[], ToolResult]]:
    """One callable per source. `window()` blocks until the onset is known, so a source
    that can fetch without it starts fetching at once; logs wait for it only where a busy
    group must be read side by side."""
    ends = deadline if deadline is not None else time.monotonic() + opts.deadline_s

    def remaining() -> float:
        return max(ends - time.monotonic() - GIVE_UP_MARGIN_S, 1.0)

    timeout = {"timeout_s": min(opts.deadline_s, 120)}

    def times() -> dict[str, object]:
        return dict(span_times(window()))

    extra_regions = bedrock_regions(service, aws.region)

    def metric_job() -> ToolResult:
        listed: list[str] = []
        refs = service_metrics(aws, service, alarm, listed)
        fetched, notes = metrics.fetch_points(aws, refs, span.start, span.end)
        if service is not None and extra_regions:
            elsewhere, more = other_region_metrics(
                aws, service, extra_regions, span.start, span.end
            )
            fetched, notes = fetched + elsewhere, notes + more
        found = window()
        result = metrics.result(metrics.summaries_for(fetched, found), listed + notes, found)
        result.data["sampling"] = listed  # a ListMetrics sweep cut short
        return result

    jobs: dict[str, Callable[[], ToolResult]] = {"metrics": metric_job}
    groups = (service.all_log_groups() if service else [])[:10]
    if not groups and alarm.dimensions.get("FunctionName"):
        groups = [f"/aws/lambda/{alarm.dimensions['FunctionName']}"]
    fetched: list[logs.Fetched] = []
    fetch_lock = threading.Lock()

    invocation_log = service.bedrock.invocation_log_group if service else None

    def fetched_logs() -> logs.Fetched:
        """The log groups' lines, fetched once for the logs and guardrails sources (the
        invocation log also in the regions a cross-region profile routes to)."""
        with fetch_lock:
            if not fetched:
                if service is not None and service.agent_runtimes:
                    runtime_groups = agentcore.runtime_log_groups(aws, service.agent_runtimes)
                    groups.extend(g for g in runtime_groups[:4] if g not in groups)
                if not groups:
                    runtimes = ", ".join(service.agent_runtimes) if service else ""
                    raise ToolError(f"no log group found for the runtimes {runtimes}")
                found = logs.fetch_groups(aws, groups, span, timeout_s=remaining(), onset=window)
                if invocation_log and extra_regions:
                    _add_other_regions(found, aws, invocation_log, extra_regions, span, opts)
                fetched.append(found)
            return fetched[0]

    if groups or (service is not None and service.agent_runtimes):
        jobs["logs"] = lambda: logs.analyze(fetched_logs(), window())
    if service is not None:
        jobs["spans"] = lambda: read_spans(aws, service, window, remaining)
    trace_services = service.xray_service_names if service else []
    jobs["traces"] = lambda: traces.analyze(
        traces.collect(aws, span.start, span.end, trace_services, remaining()), window()
    )
    if service is not None and (service.bedrock.guardrails or service.bedrock.invocation_log_group):
        invocation_group = service.bedrock.invocation_log_group
        shared = None
        if invocation_group in groups:

            def shared() -> list[tuple[int, str, float]]:
                found = fetched_logs()
                if invocation_group not in found.samples:
                    raise ToolError(f"invocation log {invocation_group} unreadable")
                return list(found.samples[invocation_group].weighted())

        params = guardrails.GuardrailsInput(
            guardrails=[g.id for g in service.bedrock.guardrails],
            invocation_log_group=invocation_group,
            **span_times(span),
            **timeout,
        )
        jobs["guardrails"] = lambda: guardrails.GuardrailsTool(aws).run(
            params.model_copy(update=times()), shared
        )
    related = (
        [service.name, *service.resource_names()] if service else list(alarm.dimensions.values())
    )

    def change_job() -> ToolResult:
        # The lookback is counted from the alarm's lookback start: a little wider than from
        # the onset, so the fetch need not wait for the onset.
        found = changes.collect(
            aws,
            span.start - opts.change_lookback,
            span.end,
            opts.cloudtrail_log_group,
            related[:100],
            remaining(),
            alarm.changed_at,
        )
        return changes.analyze(found, window(), related[:100])

    jobs["changes"] = change_job
    return jobs


def _add_other_regions(
    found: logs.Fetched,
    aws: AwsClients,
    group: str,
    regions: list[str],
    span: TimeRange,
    opts: GatherOptions,
) -> None:
    """The invocation log group's lines in other regions, as groups named `group (region)`."""
    for region in regions:
        there = aws.for_target(region=region, role_arn=aws.role_arn, external_id=aws.external_id)
        more = logs.fetch_groups(there, [group], span, timeout_s=opts.deadline_s)
        for name, sample in more.samples.items():
            labelled = f"{name} ({region})"
            found.samples[labelled] = replace(sample, group=labelled)
        found.failures += [f"{region}: {failure}" for failure in more.failures]


def gather(
    aws: AwsClients,
    alarm: Alarm,
    service: ServiceEntry | None,
    now: datetime | None = None,
    options: GatherOptions | None = None,
    progress: Progress | None = None,
) -> EvidenceBundle:
    """Run every source for the alarm; never raises for a source's failure."""
    opts = options or GatherOptions()
    notify = progress or (lambda source, status: None)
    aws = target_clients(aws, alarm, service)
    began = time.monotonic()
    deadline = began + opts.deadline_s
    now = (now or datetime.now(UTC)).astimezone(UTC)
    t0 = alarm.changed_at
    end = max(min(now, t0 + opts.after_alarm), t0 + timedelta(minutes=1))
    start = t0 - opts.lookback
    fallback = Onset(
        alarm.evaluation_start,
        "alarm metric too slow: evaluation periods before the alarm",
        error=f"no answer within {opts.deadline_s:.0f}s",
    )
    span = TimeRange(start=start, end=end, onset=end, t0=t0)
    pool = ThreadPoolExecutor(max_workers=8, thread_name_prefix="evidence")
    onset_future = pool.submit(onset_of, aws, alarm, start, end)

    def onset() -> Onset:
        try:
            return onset_future.result(timeout=max(deadline - time.monotonic(), 0.01))
        except TimeoutError:
            return fallback

    def window() -> TimeRange:
        return TimeRange(start=start, end=end, onset=onset().at, t0=t0)

    jobs = _jobs(aws, alarm, service, span, window, opts, deadline)
    started = {name: time.monotonic() for name in jobs}
    futures: dict[Future[ToolResult], str] = {pool.submit(job): name for name, job in jobs.items()}
    for name in jobs:
        notify(name, "running")
    found = onset()
    bundle = EvidenceBundle(alarm, service, window(), found.basis, alarm_series=found.series)
    if found.error:
        bundle.missing["alarm metric"] = found.error
    pending = set(futures)
    try:
        while pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            done, pending = wait(pending, timeout=remaining, return_when=FIRST_COMPLETED)
            for future in done:
                name = futures[future]
                bundle.timings[name] = time.monotonic() - started[name]
                try:
                    bundle.results[name] = future.result()
                    notify(name, "done")
                except Exception as exc:  # a failed source is reported, not fatal
                    log.warning("evidence source %s failed: %s", name, describe_error(exc))
                    bundle.missing[name] = describe_error(exc)
                    notify(name, "missing")
        for future in pending:
            name = futures[future]
            bundle.missing[name] = f"no answer within {opts.deadline_s:.0f}s"
            notify(name, "missing")
    finally:
        pool.shutdown(wait=False, cancel_futures=True)
    return bundle
