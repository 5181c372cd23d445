"""`llm-incident export-scenario`: a real incident written back as a scenario file (v1).

The benchmark should grow from production: an incident the team confirmed becomes a
scenario anyone can replay offline. Its telemetry is read again from AWS with the same
read-only tools the evidence gathering uses, over the incident's window, and summarised
into the scenario format's own terms:

- a metric series becomes piecewise segments: recursive two-segment splits (the tools'
  change point) while the two sides differ clearly, each segment a level and a jitter;
- log lines become patterns: variable tokens (times, ids, addresses, hex, numbers) turn
  into placeholders with the ranges seen, identical skeletons are one pattern whose rate
  is segmented like a metric; rare lines are kept as single lines at their times;
- traces become shapes (root and subsegments) with a phase from the onset carrying the
  durations and failure shares seen since;
- CloudTrail changes are kept as they were.

Everything textual passes through `bot.engine.redact` first. The `expected` block is the root
cause the voters confirmed (👍: the analysis' category, 👎: the category named in the
modal), else the analysis' own category.
"""

from __future__ import annotations

import itertools
import math
import re
import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from bot.config import Settings
from bot.engine.catalog import Catalog
from bot.engine.evidence import service_metrics
from bot.engine.investigate import describe_alarm
from bot.engine.redact import redact
from bot.errors import LlmIncidentError
from bot.models import Alarm, ServiceEntry, parse_utc
from bot.observe.feedback_export import confirmed_category
from bot.sim.scenario import parse_scenario
from bot.store import Feedback, Store
from tools import changes, guardrails, logs, metrics, traces
from tools.aws import AwsClients, describe_error
from tools.base import TimeRange

AFTER_ALARM = timedelta(minutes=15)  # as the evidence gathering reads past T0
MAX_SEGMENTS_DEPTH = 5
MAX_LINES_PER_GROUP = 200
MAX_PATTERNS_PER_GROUP = 80
RARE = 3  # a skeleton seen this often or less is kept as single lines
MAX_CHANGES = 60


class ExportError(LlmIncidentError):
    """The incident cannot be exported; the message says why."""


# -- numbers and times ---------------------------------------------------------------
def offset(seconds: float) -> str:
    """Seconds from T0 as a scenario offset: `-12m`, `+5m`, `-90s`, `0`."""
    whole = round(seconds)
    if whole == 0:
        return "0"
    sign = "-" if whole < 0 else "+"
    whole = abs(whole)
    return f"{sign}{whole // 60}m" if whole % 60 == 0 else f"{sign}{whole}s"


def _sig(value: float, digits: int = 3) -> float:
    """A level rounded to a few significant digits (a summary, not a copy)."""
    if value == 0 or not math.isfinite(value):
        return 0.0
    rounded = round(value, digits - 1 - math.floor(math.log10(abs(value))))
    return float(int(rounded)) if float(rounded).is_integer() else float(rounded)


def _jitter(values: list[float]) -> float:
    """Relative uniform noise with the values' spread: a uniform on ±j has sd j/√3."""
    mean = statistics.fmean(values)
    if len(values) < 2 or mean == 0:
        return 0.0
    return min(round(math.sqrt(3) * statistics.pstdev(values) / abs(mean), 2), 1.0)


def _differ(left: list[float], right: list[float]) -> bool:
    """Whether two sides of a split have clearly different levels (a t statistic over 5
    and a move of at least 10%, or of one unit near zero)."""
    a, b = statistics.fmean(left), statistics.fmean(right)
    gap = abs(a - b)
    if gap < max(0.1 * max(abs(a), abs(b)), 0.3):
        return False
    pooled = math.sqrt(
        (statistics.pvariance(left) * len(left) + statistics.pvariance(right) * len(right))
        / (len(left) + len(right))
    )
    if pooled == 0:
        return True
    return gap / (pooled * math.sqrt(1 / len(left) + 1 / len(right))) > 5


def split_levels(values: list[float], depth: int = 0) -> list[int]:
    """Indexes where the level changes (recursive binary segmentation)."""
    if depth >= MAX_SEGMENTS_DEPTH or len(values) < 6:
        return []
    index = metrics.change_point(values)
    if index is None or not 0 < index < len(values):
        return []
    left, right = values[:index], values[index:]
    if not _differ(left, right):
        return []
    return [
        *split_levels(left, depth + 1),
        index,
        *(index + i for i in split_levels(right, depth + 1)),
    ]


def _runs(
    points: list[tuple[datetime, float]], step: timedelta
) -> list[list[tuple[datetime, float]]]:
    runs: list[list[tuple[datetime, float]]] = []
    for point in points:
        if runs and point[0] - runs[-1][-1][0] <= step * 1.5:
            runs[-1].append(point)
        else:
            runs.append([point])
    return runs


def metric_spec(
    ref: metrics.MetricRef, statistic: str, points: list[tuple[datetime, float]], t0: datetime
) -> dict[str, Any] | None:
    if not points:
        return None
    gaps = [(b[0] - a[0]).total_seconds() for a, b in itertools.pairwise(points)]
    period = max(60, round(min(gaps, default=60) / 60) * 60)
    step = timedelta(seconds=period)
    counts = statistic in ("Sum", "SampleCount")
    segments = []
    for run in _runs(points, step):
        values = [v for _, v in run]
        cuts = [0, *split_levels(values), len(values)]
        for lo, hi in itertools.pairwise(cuts):
            part = values[lo:hi]
            segment: dict[str, Any] = {
                "from": offset((run[lo][0] - t0).total_seconds()),
                "to": offset((run[hi - 1][0] - t0).total_seconds() + period),
                "value": _sig(statistics.fmean(part)),
            }
            if jitter := _jitter(part):
                segment["jitter"] = jitter
            segments.append(segment)
    spec: dict[str, Any] = {
        "namespace": ref.namespace,
        "name": ref.name,
        "dimensions": dict(ref.dimensions),
    }
    if counts:
        spec["unit"] = "Count"
    if period != 60:
        spec["period"] = period
    spec["segments"] = segments
    return spec


# -- log lines -----------------------------------------------------------------------
_TOKEN = re.compile(
    r"(?P<ts>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z)"
    r"|(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)"
    r"|(?P<ip>(?<![\w.])\d{1,3}(?:\.\d{1,3}){3}(?![\w.]))"
    r"|(?P<hex>\b(?=[0-9a-f]*[a-f])(?=[0-9a-f]*\d)[0-9a-f]{6,64}\b)"
    r"|(?P<num>(?<![\w.])\d+(?:\.\d+)?(?![\w.]))"
)


def _escape(text: str) -> str:
    return text.replace("{", "{{").replace("}", "}}")


def tokenize(line: str) -> tuple[tuple[str, ...], list[str]]:
    """A line -> (its skeleton: escaped literal text and token kinds, its token values)."""
    skeleton: list[str] = []
    values: list[str] = []
    position = 0
    for match in _TOKEN.finditer(line):
        skeleton.append(_escape(line[position : match.start()]))
        skeleton.append("\0" + str(match.lastgroup))
        values.append(match.group(0))
        position = match.end()
    skeleton.append(_escape(line[position:]))
    return tuple(skeleton), values


def _slot(kind: str, seen: list[str]) -> str:
    distinct = set(seen)
    if len(distinct) == 1 and kind not in ("ts", "uuid"):
        return _escape(seen[0])
    if kind in ("ts", "uuid", "ip"):
        return "{" + kind + "}"
    if kind == "hex":
        width = Counter(len(v) for v in seen).most_common(1)[0][0]
        return f"{{hex:{width}}}"
    numbers = [float(v) for v in seen]
    low, high = min(numbers), max(numbers)
    if all("." not in v for v in seen):
        return f"{{int:{int(low)}-{int(high)}}}"
    return f"{{float:{low:.2f}-{high:.2f}}}"


@dataclass
class _Skeleton:
    parts: tuple[str, ...]
    times: list[int] = field(default_factory=list)
    values: list[list[str]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def template(self) -> str:
        out: list[str] = []
        slot = 0
        for part in self.parts:
            if part.startswith("\0"):
                out.append(_slot(part[1:], [v[slot] for v in self.values]))
                slot += 1
            else:
                out.append(part)
        return "".join(out)


def _rate_segments(times_ms: list[int], start: datetime, end: datetime, t0: datetime):
    """Per-minute counts segmented like a metric -> (from, to, lines per minute)."""
    minutes = max(int((end - start).total_seconds() // 60), 1)
    base = start.timestamp() * 1000
    counts = [0.0] * minutes
    for at in times_ms:
        index = int((at - base) // 60_000)
        if 0 <= index < minutes:
            counts[index] += 1
    cuts = [0, *split_levels(counts), minutes]
    for lo, hi in itertools.pairwise(cuts):
        total = sum(counts[lo:hi])
        if total == 0:
            continue
        # Trim empty minutes at either end so a pattern starts when its lines start.
        while counts[lo] == 0:
            lo += 1
        while counts[hi - 1] == 0:
            hi -= 1
        begin = start + timedelta(minutes=lo)
        finish = start + timedelta(minutes=hi)
        yield (begin - t0).total_seconds(), (finish - t0).total_seconds(), total / (hi - lo)


def log_group_spec(
    group: str, events: list[tuple[int, str]], start: datetime, end: datetime, t0: datetime
) -> dict[str, Any] | None:
    skeletons: dict[tuple[str, ...], _Skeleton] = {}
    for at, message in events:
        text = redact(message.rstrip("\n"))
        if not text.strip():
            continue
        parts, values = tokenize(text)
        entry = skeletons.setdefault(parts, _Skeleton(parts))
        entry.times.append(at)
        entry.values.append(values)
        if len(entry.lines) <= RARE:
            entry.lines.append(text)
    patterns: list[dict[str, Any]] = []
    lines: list[dict[str, Any]] = []
    ranked = sorted(skeletons.values(), key=lambda s: -len(s.times))
    for entry in ranked:
        if len(entry.times) <= RARE or len(patterns) >= MAX_PATTERNS_PER_GROUP:
            for at, text in zip(entry.times, entry.lines, strict=False):
                if len(lines) < MAX_LINES_PER_GROUP:
                    seconds = (at / 1000) - t0.timestamp()
                    lines.append({"at": offset(seconds), "message": _escape(text)})
            continue
        template = entry.template()
        for begin, finish, rate in _rate_segments(entry.times, start, end, t0):
            patterns.append(
                {
                    "template": template,
                    "rate": f"{_sig(rate)}/m",
                    "from": offset(begin),
                    "to": offset(finish),
                }
            )
    if not patterns and not lines:
        return None
    spec: dict[str, Any] = {"group": group, "patterns": patterns}
    if lines:
        spec["lines"] = sorted(lines, key=lambda line: _seconds(line["at"]))
    return spec


def _seconds(text: str) -> float:
    from bot.sim.scenario import parse_offset

    return parse_offset(text).total_seconds()


# -- traces --------------------------------------------------------------------------
def _span_name(sub: dict[str, Any]) -> tuple[str, str | None, str | None]:
    """(name, service, namespace) of a subsegment as a scenario span."""
    operation = (sub.get("aws") or {}).get("operation")
    service = (sub.get("annotations") or {}).get("service")
    namespace = sub.get("namespace")
    if operation:
        return str(operation), str(service or sub.get("name") or ""), namespace
    return str(sub.get("name", "?")), service, namespace


def _duration(seconds: float) -> str:
    return f"{max(round(seconds * 1000), 1)}ms"


def _root_name(document: dict[str, Any]) -> str:
    operation = (document.get("annotations") or {}).get("operation")
    if operation:
        return str(operation)
    request = (document.get("http") or {}).get("request") or {}
    if request.get("method") and request.get("url"):
        return f"{request['method']} {request['url']}"
    return str(document.get("name", "request"))


def _failure(document: dict[str, Any]) -> str | None:
    if document.get("throttle"):
        return "throttle"
    if document.get("fault"):
        return "fault"
    if document.get("error"):
        return "error"
    return None


@dataclass
class _Side:
    """One span (or the root) on one side of the onset, in the sampled traces."""

    durations: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    statuses: Counter[int] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)

    def add(self, document: dict[str, Any], failures: bool = True) -> str | None:
        start, end = document.get("start_time"), document.get("end_time")
        if isinstance(start, int | float) and isinstance(end, int | float):
            self.durations.append(max(end - start, 0.001))
        kind = _failure(document)
        if kind and failures:
            self.failures[kind] += 1
            status = ((document.get("http") or {}).get("response") or {}).get("status")
            if isinstance(status, int) and 100 <= status <= 599:
                self.statuses[status] += 1
            for exception in (document.get("cause") or {}).get("exceptions") or []:
                if exception.get("message"):
                    self.messages[redact(str(exception["message"]))[:300]] += 1
        return kind


@dataclass
class _Shape:
    """One trace shape's sampled traces on one side of the onset."""

    root: _Side = field(default_factory=_Side)
    spans: dict[int, _Side] = field(default_factory=lambda: defaultdict(_Side))
    failing: int = 0  # sampled traces that failed

    def add(self, document: dict[str, Any], width: int) -> None:
        subs = (document.get("subsegments") or [])[:width]
        kinds = [self.spans[index].add(sub) for index, sub in enumerate(subs)]
        own = _failure(document)
        self.failing += own is not None
        # A failed span fails its root too: only a root failing on its own is the root's.
        self.root.add(document, failures=not any(kinds))


def _override(side: _Side, base: float, scale: float) -> dict[str, Any]:
    """A phase override: the side's duration when it moved, and its failure shares,
    `scale` turning a count among the failing sampled traces into a share of all traces
    (the sample takes failing traces first, so its own shares would be too high)."""
    out: dict[str, Any] = {}
    if side.durations:
        mean = statistics.fmean(side.durations)
        if abs(mean - base) > 0.15 * base:
            out["duration"] = _duration(mean)
            out["jitter"] = _jitter(side.durations)
    for kind, count in side.failures.items():
        share = round(min(scale * count, 1.0), 3)
        if share > 0:
            out[kind] = share
    if any(kind in out for kind in ("fault", "error", "throttle")):
        if side.statuses:
            out["http_status"] = side.statuses.most_common(1)[0][0]
        if side.messages:
            out["message"] = side.messages.most_common(1)[0][0]
    return out


def trace_specs(
    collected: traces.Collected,
    onset: datetime,
    start: datetime,
    end: datetime,
    t0: datetime,
) -> list[dict[str, Any]]:
    """Trace shapes from the sampled documents; rates and failure shares from every
    trace summary, split at the onset."""
    rows, documents = collected.rows, collected.documents
    if not rows or not documents:
        return []
    # Traces exist from the first one seen (the window may reach back further).
    minutes = max((end - max(start, min(r[1] for r in rows))).total_seconds() / 60, 1.0)
    failed_share = {}
    for recent in (False, True):
        side = [r for r in rows if (r[1] >= onset) == recent]
        failed_share[recent] = sum(1 for r in side if r[2]) / len(side) if side else 0.0
    grouped: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    for document in documents:
        subs = tuple(_span_name(s) for s in document.get("subsegments") or [])
        grouped[(str(document.get("name", "?")), _root_name(document), subs)].append(document)
    failing_sampled = {
        recent: sum(
            1
            for d in documents
            if _failure(d)
            and isinstance(d.get("start_time"), int | float)
            and (datetime.fromtimestamp(d["start_time"], UTC) >= onset) == recent
        )
        for recent in (False, True)
    }
    specs = []
    ordered = sorted(grouped.items(), key=lambda item: -len(item[1]))
    for number, ((service, name, subs), docs) in enumerate(ordered):
        rate = len(rows) * len(docs) / len(documents) / minutes
        if rate * minutes < 1:
            continue
        sides = {False: _Shape(), True: _Shape()}
        for document in docs:
            began = document.get("start_time")
            if isinstance(began, int | float):
                recent = datetime.fromtimestamp(began, UTC) >= onset
                sides[recent].add(document, len(subs))
        before = sides[False] if sides[False].root.durations else sides[True]
        spans, bases = [], []
        for index, (span_name, span_service, namespace) in enumerate(subs):
            durations = before.spans[index].durations or [0.001]
            bases.append(statistics.fmean(durations))
            span: dict[str, Any] = {"name": span_name, "duration": _duration(bases[-1])}
            if span_service:
                span["service"] = span_service
            if namespace:
                span["namespace"] = namespace
            if jitter := _jitter(durations):
                span["jitter"] = jitter
            spans.append(span)
        root_durations = before.root.durations or [0.001]
        root_base = statistics.fmean(root_durations)
        root: dict[str, Any] = {"service": service, "name": name, "duration": _duration(root_base)}
        if jitter := _jitter(root_durations):
            root["jitter"] = jitter
        phases = []
        split = offset((onset - t0).total_seconds())
        for recent in (False, True):
            side = sides[recent]
            # Among every trace of this side, the share that failed; among the sampled
            # failing ones (of every shape), how many this count is.
            scale = failed_share[recent] / failing_sampled[recent] if failing_sampled[recent] else 0
            found = {
                subs[i][0]: o
                for i in range(len(subs))
                if i in side.spans and (o := _override(side.spans[i], bases[i], scale))
            }
            own = _override(side.root, root_base, scale) if side.root.durations else {}
            if found or own:
                phase: dict[str, Any] = {"from": split} if recent else {"to": split}
                if own:
                    phase["root"] = own
                if found:
                    phase["spans"] = found
                phases.append(phase)
        spec: dict[str, Any] = {
            "name": f"shape-{number + 1}",
            "rate": f"{_sig(rate)}/m",
            "root": root,
            "spans": spans,
        }
        if phases:
            spec["phases"] = phases
        specs.append(spec)
    return specs


# -- changes -------------------------------------------------------------------------
def _unflatten(flat: dict[str, str]) -> dict[str, Any]:
    """`environment.variables.MODEL: x` -> nested maps (list indexes stay in the key)."""
    nested: dict[str, Any] = {}
    for key, value in flat.items():
        parts = key.split(".")
        here = nested
        for part in parts[:-1]:
            nxt = here.setdefault(part, {})
            if not isinstance(nxt, dict):
                break
            here = nxt
        else:
            here[parts[-1]] = _scalar(redact(value))
    return nested


def _scalar(text: str) -> Any:
    if text in ("true", "false"):
        return text == "true"
    if re.fullmatch(r"-?\d+", text) and len(text) < 16:
        return int(text)
    return text


def change_spec(change: changes.Change, t0: datetime) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "at": offset((change.at - t0).total_seconds()),
        "event_source": change.source or "unknown.amazonaws.com",
        "event_name": change.name,
    }
    if change.resources:
        spec["resource"] = redact(change.resources[0])
    if change.user:
        spec["user"] = change.user
    if change.request:
        spec["request"] = _unflatten(change.request)
    return spec


# -- the incident --------------------------------------------------------------------
def alarm_spec(alarm: Alarm) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "name": alarm.name,
        "description": redact(alarm.description),
        "namespace": alarm.namespace or "AWS/Unknown",
        "metric": alarm.metric or "Unknown",
        "dimensions": dict(alarm.dimensions),
        "statistic": alarm.statistic,
        "period": alarm.period,
        "evaluation_periods": alarm.evaluation_periods,
        "threshold": alarm.threshold,
        "comparison": alarm.comparison,
    }
    if alarm.reason:
        spec["reason"] = redact(alarm.reason)
    return spec


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "incident"


@dataclass
class Read:
    """What the tools read for one incident, before it is summarised."""

    metrics: list[dict[str, Any]] = field(default_factory=list)
    logs: list[dict[str, Any]] = field(default_factory=list)
    traces: list[dict[str, Any]] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def read_telemetry(
    aws: AwsClients,
    alarm: Alarm,
    service: ServiceEntry | None,
    span: TimeRange,
    settings: Settings,
) -> Read:
    """Every source over the window, summarised; a source that fails is noted."""
    t0 = alarm.changed_at
    read = Read()
    try:
        refs = service_metrics(aws, service, alarm)
        if service and service.bedrock.guardrails:
            known = {ref.key for ref in refs}
            ids = [g.id for g in service.bedrock.guardrails]
            refs += [r for r in guardrails.guardrail_refs(aws, ids) if r.key not in known]
        fetched, _ = metrics.fetch_points(aws, refs, span.start, span.end)
        for ref, statistic, points in fetched:
            if spec := metric_spec(ref, statistic, points, t0):
                read.metrics.append(spec)
    except Exception as exc:
        read.notes.append(f"metrics unreadable: {describe_error(exc)}")
    groups = (service.all_log_groups() if service else [])[:10]
    if not groups and alarm.dimensions.get("FunctionName"):
        groups = [f"/aws/lambda/{alarm.dimensions['FunctionName']}"]
    for group in groups:
        try:
            events, capped = logs.filter_events(aws, group, span)
        except Exception as exc:
            read.notes.append(f"log group {group} unreadable: {describe_error(exc)}")
            continue
        if capped:
            read.notes.append(f"log group {group}: more lines than {len(events)}; rates sampled")
        if spec := log_group_spec(group, events, span.start, span.end, t0):
            read.logs.append(spec)
    try:
        collected = traces.collect(
            aws, span.start, span.end, service.xray_service_names if service else []
        )
        read.traces = trace_specs(collected, span.onset, span.start, span.end, t0)
    except Exception as exc:
        read.notes.append(f"traces unreadable: {describe_error(exc)}")
    try:
        lookback = timedelta(hours=settings.change_lookback_hours)
        found = changes.collect(
            aws, span.start - lookback, span.end, settings.cloudtrail_log_group
        ).changes
        found = sorted(found, key=lambda c: c.at)[-MAX_CHANGES:]
        read.changes = [change_spec(change, t0) for change in found]
    except Exception as exc:
        read.notes.append(f"changes unreadable: {describe_error(exc)}")
    return read


def export_scenario(
    store: Store,
    incident_id: int,
    aws: AwsClients,
    catalog: Catalog,
    settings: Settings,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The incident as scenario data (validated against the v1 format)."""
    incident = store.incidents.get(incident_id)
    if incident is None:
        raise ExportError(f"no incident {incident_id}")
    alarm = Alarm.model_validate(incident.alarm)
    service = catalog.resolve(alarm) or catalog.find(incident.service)
    analysis = store.analyses.latest(incident_id)
    t0 = alarm.changed_at
    now = (now or datetime.now(UTC)).astimezone(UTC)
    end = min(now, t0 + AFTER_ALARM)
    tail_minutes = max(int((end - t0).total_seconds() // 60), 1)
    start = t0 - timedelta(minutes=settings.lookback_minutes)
    end = t0 + timedelta(minutes=tail_minutes)
    onset = _onset(analysis.investigation if analysis else {}, alarm)
    span = TimeRange(start=start, end=end, onset=onset, t0=t0)
    read = read_telemetry(aws, alarm, service, span, settings)
    category, how = _expected(store, analysis)
    also = []
    for name in store.incidents.firing_alarms(incident_id):
        if name == alarm.name:
            continue
        other = describe_alarm(aws, name)
        if other is not None:
            also.append(
                {**alarm_spec(other), "at": offset((other.changed_at - t0).total_seconds())}
            )
    account = alarm.account if re.fullmatch(r"\d{12}", alarm.account or "") else "000000000000"
    entry = service or ServiceEntry(name=incident.service)
    data: dict[str, Any] = {
        "version": 1,
        "id": f"incident-{incident_id}-{_slug(alarm.name)}",
        "title": f"{alarm.name} on {entry.name}, incident {incident_id} of {t0:%Y-%m-%d %H:%M} UTC",
        "seed": incident_id,
        "region": alarm.region or settings.aws_region,
        "account": account,
        "window": {"start": f"-{settings.lookback_minutes}m", "tail": f"{tail_minutes}m"},
        "service": entry.model_dump(mode="json", exclude_none=True),
        "alarm": alarm_spec(alarm),
        "alarms_also_firing": also,
        "metrics": read.metrics,
        "logs": read.logs,
        "traces": read.traces,
        "changes": read.changes,
    }
    if category:
        data["expected"] = {"category": category, "evidence": []}
    notes = [
        f"Exported by llm-incident from incident {incident_id} ({incident.service}); "
        f"expected category: {how}."
    ]
    notes += read.notes
    data["notes"] = " ".join(notes)
    parse_scenario(data, f"incident {incident_id}")  # what is written must read back
    return data


def _onset(investigation: dict[str, Any], alarm: Alarm) -> datetime:
    onset = parse_utc(investigation.get("onset"))
    if onset is not None:
        return onset
    return alarm.changed_at - timedelta(seconds=alarm.period * alarm.evaluation_periods)


def _expected(store: Store, analysis: Any) -> tuple[str | None, str]:
    if analysis is None:
        return None, "none (no analysis)"
    with store.session() as session:
        votes = list(session.scalars(select(Feedback).where(Feedback.analysis_id == analysis.id)))
    confirmed = confirmed_category(analysis.category, votes)
    if confirmed:
        return confirmed, "confirmed by the votes on the analysis"
    return analysis.category, "the analysis' own category (no vote named one)"


def write_scenario(data: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=1_000_000)
    path.write_text(text, encoding="utf-8")
