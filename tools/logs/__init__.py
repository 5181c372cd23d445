"""CloudWatch Logs: a service's lines turned into the patterns that changed at the onset.

`fetch` gets the lines (Logs Insights or FilterLogEvents), `patterns` clusters them and
compares each template across the onset, `lambda_reports` reads Lambda's REPORT lines.
This module is the tool the investigation and the model call.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from tools.base import TimeRange, Tool, ToolError, ToolInput, ToolResult
from tools.logs.fetch import Fetched, fetch_groups, filter_events, insights_supported
from tools.logs.lambda_reports import LambdaReports, lambda_reports
from tools.logs.patterns import Pattern, cluster, display, failure_markers, render

__all__ = [
    "Fetched",
    "LambdaReports",
    "LogsInput",
    "LogsTool",
    "Pattern",
    "analyze",
    "cluster",
    "display",
    "failure_markers",
    "fetch_groups",
    "filter_events",
    "insights_supported",
    "lambda_reports",
]


class LogsInput(ToolInput):
    log_groups: list[str] = Field(min_length=1, max_length=10)
    start: datetime
    end: datetime
    onset: datetime
    t0: datetime | None = None
    filter_pattern: str | None = Field(
        default=None, max_length=200, description="a plain or quoted term to narrow the lines"
    )
    limit: int = Field(default=10, ge=1, le=40, description="patterns to show")


class LogsTool(Tool[LogsInput]):
    name = "get_log_patterns"
    description = (
        "Clusters CloudWatch Logs lines of the given log groups into templates and reports "
        "the ones that are new, grew, shrank or disappeared since onset, with counts, "
        "first-seen times and a sample line. Use filter_pattern (a plain term) to narrow."
    )
    Input = LogsInput

    def run(self, params: LogsInput) -> ToolResult:
        window = TimeRange(start=params.start, end=params.end, onset=params.onset, t0=params.t0)
        fetched = fetch_groups(
            self.aws, params.log_groups, window, params.filter_pattern, params.timeout_s
        )
        return analyze(fetched, window, params.limit)


def analyze(fetched: Fetched, window: TimeRange, limit: int = 10) -> ToolResult:
    """Cluster what was fetched and compare each pattern across the onset."""
    if fetched.failures and not fetched.events:
        raise ToolError("; ".join(fetched.failures))
    patterns: list[Pattern] = []
    reports: list[LambdaReports] = []
    for group, events in fetched.events.items():
        patterns += fetched.clusters[group].patterns(window)
        if found := lambda_reports(events, group, window):
            reports.append(found)
    notes = fetched.notes + [f"missing log group {f}" for f in fetched.failures]
    data = {"patterns": patterns, "path": fetched.path, "lambda_reports": reports}
    text = render(patterns, window, limit)
    text += "".join(f"\n- {report.line()}" for report in reports)
    return ToolResult(LogsTool.name, text, data, notes)
