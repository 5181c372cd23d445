"""The `spans` evidence source: a service's OpenTelemetry spans from its spans log group.

Spans are read when X-Ray's destination (or, where that cannot be asked, the log group
itself) says Transaction Search stores them; only the spans whose `service.name` is the
service's name or one of its X-Ray service names are counted (the group is the account's,
shared by every instrumented service). A service with no spans there gives an empty
result: nothing to render, nothing to score.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from bot.models import ServiceEntry
from tools import spans
from tools.aws import AwsClients
from tools.base import TimeRange, ToolResult


def span_services(service: ServiceEntry) -> list[str]:
    """The `service.name` values that belong to the service (the format's rule)."""
    return list(dict.fromkeys([service.name, *service.xray_service_names]))


def read_spans(
    aws: AwsClients,
    service: ServiceEntry,
    window: Callable[[], TimeRange],
    remaining: Callable[[], float],
) -> ToolResult:
    """Locate, then aggregate both sides of the onset (waits for the onset to query)."""
    group = service.spans_log_group or spans.DEFAULT_GROUP
    where = spans.locate(aws, group, catalog_says=bool(service.agent_runtimes))
    if where.group is None:
        return ToolResult(spans.SpansTool.name, "", {"location": where}, [where.basis])
    found = window()
    read = spans.read.read_spans(
        aws, where.group, found, span_services(service), time.monotonic() + remaining()
    )
    if not any(side.spans for side in read.sides.values()):
        note = f"no spans of {', '.join(span_services(service))} in {where.group}"
        return ToolResult(spans.SpansTool.name, "", {"location": where}, [note])
    return spans.analyze(read, where, found)
