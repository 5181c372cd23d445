"""Reading X-Ray at any volume: trace summaries filtered on the server, a sampled
baseline, and the full documents of a few traces.

- A sample of every trace of the service (`Sampling` with a fixed rate, chosen so that
  about `SAMPLE_TARGET` summaries come back whatever the volume) gives the totals per
  side of the onset and the healthy traces whose documents are read.
- A `FilterExpression` (`fault OR error OR throttle OR responsetime > N`, with
  `service("name")`) returns every failing or slow trace, so failures are counted, not
  estimated, and their documents are read first.
- `BatchGetTraces` takes five ids at a time; ids it leaves unprocessed are asked again,
  and its `NextToken` is followed.

An endpoint that refuses filter expressions (an emulator) is read unfiltered, up to
`MAX_SUMMARIES`, as before; the evidence says so.
"""

from __future__ import annotations

import json
import random
import statistics
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tools.aws import AwsClients, error_code

BATCH = 5  # BatchGetTraces takes at most five ids
SAMPLE_PER_SIDE = 60
MAX_SUMMARIES = 5000  # summaries read unfiltered where filter expressions are refused
MAX_FAILING = 3000  # failing or slow summaries read through the filter expression
SAMPLE_TARGET = 2000  # summaries the fixed-rate sample aims at
FIRST_RATE = 0.01  # the first sample's rate, before the volume is known
UNPROCESSED_ROUNDS = 3
_REFUSED = {"InternalFailure", "NotImplemented", "InvalidRequestException", "ValidationException"}


class FilterRefusedError(RuntimeError):
    """The endpoint does not run X-Ray filter expressions."""


@dataclass
class Summary:
    """What one trace summary says: when, whether it failed, how long it took."""

    id: str
    at: datetime
    failed: bool
    response_s: float
    weight: float = 1.0  # traces it stands for (1 / sampling rate)


@dataclass
class Summaries:
    sampled: list[Summary] = field(default_factory=list)  # every trace, at `rate`
    failing: list[Summary] = field(default_factory=list)  # failing or slow, all of them
    rate: float = 1.0
    slow_s: float | None = None
    filtered: bool = True  # whether the endpoint ran the filter expressions
    cut: bool = False  # the sample stopped at its cap
    failing_cut: bool = False  # the failing read stopped at its cap
    notes: list[str] = field(default_factory=list)


def trace_time(trace_id: str) -> datetime | None:
    """X-Ray trace ids carry their start epoch: `1-<8 hex seconds>-<24 hex>`."""
    parts = trace_id.split("-")
    if len(parts) != 3:
        return None
    try:
        return datetime.fromtimestamp(int(parts[1], 16), UTC)
    except (ValueError, OverflowError):
        return None


def service_filter(services: list[str]) -> str:
    return " OR ".join(f'service("{name}")' for name in services)


def failing_filter(services: list[str], slow_s: float) -> str:
    condition = f"(fault OR error OR throttle OR responsetime > {slow_s:g})"
    return f"({service_filter(services)}) AND {condition}" if services else condition


def pages(
    aws: AwsClients, start: datetime, end: datetime, cap: int, deadline: float, **extra: Any
) -> Iterator[dict[str, Any]]:
    """GetTraceSummaries pages until `cap` summaries, the last page or the deadline."""
    client = aws.client("xray")
    kwargs: dict[str, Any] = {"StartTime": start, "EndTime": end, "Sampling": False, **extra}
    seen = 0
    while time.monotonic() < deadline:
        page = client.get_trace_summaries(**kwargs)
        found = page.get("TraceSummaries", [])
        seen += len(found)
        yield page
        token = page.get("NextToken")
        if not token or seen >= cap:
            return
        kwargs["NextToken"] = token


def _summary(raw: dict[str, Any], weight: float = 1.0) -> Summary | None:
    at = trace_time(raw.get("Id", ""))
    if at is None:
        return None
    failed = bool(raw.get("HasFault") or raw.get("HasError") or raw.get("HasThrottle"))
    response = raw.get("ResponseTime") or raw.get("Duration") or 0.0
    return Summary(raw["Id"], at, failed, float(response), weight)


def _read(pages_: Iterator[dict[str, Any]], weight: float = 1.0) -> tuple[list[Summary], bool]:
    found: list[Summary] = []
    cut = False
    for page in pages_:
        found += [s for raw in page.get("TraceSummaries", []) if (s := _summary(raw, weight))]
        cut = bool(page.get("NextToken"))
    return found, cut


def _filtered(
    aws: AwsClients,
    start: datetime,
    end: datetime,
    expression: str | None,
    cap: int,
    deadline: float,
    rate: float | None = None,
) -> tuple[list[Summary], bool]:
    extra: dict[str, Any] = {}
    if expression:
        extra["FilterExpression"] = expression
    if rate is not None and rate < 1:
        extra["Sampling"] = True
        extra["SamplingStrategy"] = {"Name": "FixedRate", "Value": rate}
    try:
        return _read(pages(aws, start, end, cap, deadline, **extra), 1 / (rate or 1))
    except Exception as exc:
        if expression and (error_code(exc) in _REFUSED or error_code(exc).isdigit()):
            raise FilterRefusedError(str(exc)) from exc
        raise


def read_summaries(
    aws: AwsClients, start: datetime, end: datetime, services: list[str], deadline: float
) -> Summaries:
    """The sampled baseline and every failing or slow trace; the legacy unfiltered read
    where the endpoint refuses expressions."""
    if aws.capabilities.get("xray_filters") is False:
        return _unfiltered(aws, start, end, services, deadline)
    everything = service_filter(services) or "responsetime >= 0"
    try:
        sampled, cut = _filtered(aws, start, end, everything, SAMPLE_TARGET, deadline, FIRST_RATE)
    except FilterRefusedError:
        aws.capabilities["xray_filters"] = False
        return _unfiltered(aws, start, end, services, deadline)
    aws.capabilities["xray_filters"] = True
    rate = FIRST_RATE
    while cut and rate > 1e-4:  # more traces than the sample holds: sample more thinly
        rate /= 10
        sampled, cut = _filtered(aws, start, end, everything, SAMPLE_TARGET, deadline, rate)
    if not cut and len(sampled) < SAMPLE_TARGET // 4:  # few traces: sample them more densely
        volume = len(sampled) / rate
        # Aim under the cap: a sample cut at it would undercount the traces.
        rate = min(1.0, 0.75 * SAMPLE_TARGET / max(volume, 1.0))
        sampled, cut = _filtered(aws, start, end, everything, SAMPLE_TARGET, deadline, rate)
    found = Summaries(sampled=sampled, rate=rate, cut=cut)
    times = [s.response_s for s in sampled if s.response_s > 0]
    found.slow_s = round(max(3 * statistics.median(times), 1.0), 1) if times else 5.0
    failing, failing_cut = _filtered(
        aws, start, end, failing_filter(services, found.slow_s), MAX_FAILING, deadline
    )
    found.failing = failing
    found.failing_cut = failing_cut
    return found


def _unfiltered(
    aws: AwsClients, start: datetime, end: datetime, services: list[str], deadline: float
) -> Summaries:
    raw: list[dict[str, Any]] = []
    cut = False
    for page in pages(aws, start, end, MAX_SUMMARIES, deadline):
        raw += page.get("TraceSummaries", [])
        cut = bool(page.get("NextToken"))
    wanted = set(services)
    kept = [s for r in raw if _belongs(r, wanted) and (s := _summary(r))]
    found = Summaries(sampled=kept, failing=[s for s in kept if s.failed], filtered=False, cut=cut)
    if cut:
        found.notes.append(
            f"X-Ray: filter expressions refused here; the first {len(raw)} summaries read "
            "unfiltered (cut)"
        )
    return found


def _belongs(summary: dict[str, Any], services: set[str]) -> bool:
    if not services:
        return True
    names = {s.get("Name") for s in summary.get("ServiceIds", [])}
    entry = (summary.get("EntryPoint") or {}).get("Name")
    return bool((names | {entry}) & services) or (not names and entry is None)


def sample_ids(
    rows: list[tuple[str, datetime, bool]],
    start: datetime,
    end: datetime,
    buckets: int = 6,
    seed: int = 7,
) -> list[str]:
    """Failing traces first, then a seeded random sample, in each of a few time slices,
    so both sides of an onset found later are represented."""
    chosen: list[str] = []
    rng = random.Random(seed)  # noqa: S311 - sampling, not security
    span = max((end - start).total_seconds(), 1.0)
    per_bucket = (2 * SAMPLE_PER_SIDE) // buckets
    sliced: dict[int, list[tuple[str, datetime, bool]]] = {}
    for row in rows:
        index = min(int((row[1] - start).total_seconds() * buckets / span), buckets - 1)
        sliced.setdefault(max(index, 0), []).append(row)
    for bucket in range(buckets):
        inside = sliced.get(bucket, [])
        failing = list(dict.fromkeys(r[0] for r in inside if r[2]))
        healthy = list(dict.fromkeys(r[0] for r in inside if not r[2]))
        pick = failing[: per_bucket // 2]
        rng.shuffle(healthy)
        pick += [h for h in healthy if h not in pick][: per_bucket - len(pick)]
        chosen += pick
    return chosen


def fetch_documents(
    aws: AwsClients, ids: list[str], deadline: float | None = None, workers: int = 8
) -> tuple[list[dict[str, Any]], list[str]]:
    """Segment documents of the traces, five ids per BatchGetTraces, unprocessed ids asked
    again and NextToken followed; returns the documents and the ids never answered."""
    client = aws.client("xray")
    batches = [ids[i : i + BATCH] for i in range(0, len(ids), BATCH)]

    def one(batch: list[str]) -> tuple[list[dict[str, Any]], list[str]]:
        documents: list[dict[str, Any]] = []
        pending = batch
        for round_ in range(UNPROCESSED_ROUNDS):
            if round_:
                time.sleep(0.1 * 2**round_)  # unprocessed ids: X-Ray was busy
            kwargs: dict[str, Any] = {"TraceIds": pending}
            unprocessed: list[str] = []
            while True:
                page = client.batch_get_traces(**kwargs)
                for trace in page.get("Traces", []):
                    for segment in trace.get("Segments", []):
                        documents.append(json.loads(segment["Document"]))
                unprocessed += page.get("UnprocessedTraceIds", []) or []
                token = page.get("NextToken")
                if not token or (deadline is not None and time.monotonic() > deadline):
                    break
                kwargs["NextToken"] = token
            pending = [i for i in dict.fromkeys(unprocessed) if i in batch]
            if not pending:
                break
        return documents, pending

    if not batches:
        return [], []
    with ThreadPoolExecutor(max_workers=min(workers, len(batches))) as pool:
        results = list(pool.map(one, batches))
    return [d for docs, _ in results for d in docs], [i for _, left in results for i in left]
