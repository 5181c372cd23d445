"""Traces as shapes: the request paths the service served, and how they changed at onset.

The investigation reads traces for which span slowed or failed, and since when; a
scenario carries exactly that and no single trace. Sampled documents are grouped into
shapes (root and subsegment names); each shape gets its rate from every trace summary,
its base durations from before the onset, and a phase from the onset that carries the
durations and failure shares seen since. Failure shares are scaled from the sample to
all traces, because the sample takes failing traces first. Exception messages pass
through `bot.engine.redact`.
"""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.engine.redact import redact
from bot.sim.export.metrics import jitter_of, offset, significant
from tools import traces


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
            out["jitter"] = jitter_of(side.durations)
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
            if jitter := jitter_of(durations):
                span["jitter"] = jitter
            spans.append(span)
        root_durations = before.root.durations or [0.001]
        root_base = statistics.fmean(root_durations)
        root: dict[str, Any] = {"service": service, "name": name, "duration": _duration(root_base)}
        if jitter := jitter_of(root_durations):
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
            "rate": f"{significant(rate)}/m",
            "root": root,
            "spans": spans,
        }
        if phases:
            spec["phases"] = phases
        specs.append(spec)
    return specs
