"""CloudWatch Logs: a service's lines turned into the patterns that changed at the onset.

`fetch` reads the lines (Logs Insights aggregates and bounded reads in `insights`, else
FilterLogEvents in time slices), each side of the onset on its own; `sample` says what a
line read stands for and what was read; `records` reads text and JSON lines (Lambda's
JSON format, Powertools); `patterns` clusters them and compares each template across the
onset; `lambda_reports` reads Lambda's REPORT lines. This module is the tool the
investigation and the model call.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import Field

from tools.base import TimeRange, Tool, ToolError, ToolInput, ToolResult
from tools.logs.fetch import Fetched, fetch_groups, filter_events
from tools.logs.insights import insights_supported
from tools.logs.lambda_reports import LambdaReports, lambda_reports, parse_report
from tools.logs.patterns import Clusterer, Pattern, cluster, render
from tools.logs.records import display, failure_markers

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
    "parse_report",
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
        "first-seen times and a sample line. Busy groups are sampled (all error-level "
        "lines, a bounded sample of the rest from both sides of the onset); the result "
        "says what was read. Use filter_pattern (a plain term) to narrow."
    )
    Input = LogsInput

    def run(self, params: LogsInput) -> ToolResult:
        window = TimeRange(start=params.start, end=params.end, onset=params.onset, t0=params.t0)
        fetched = fetch_groups(
            self.aws, params.log_groups, window, params.filter_pattern, params.timeout_s
        )
        return analyze(fetched, window, params.limit)


def analyze(fetched: Fetched, window: TimeRange, limit: int = 10) -> ToolResult:
    """Cluster what was read and compare each pattern across the onset."""
    if fetched.failures and not fetched.samples:
        raise ToolError("; ".join(fetched.failures))
    patterns: list[Pattern] = []
    reports: list[LambdaReports] = []
    for group, sample in fetched.samples.items():
        weighted = list(sample.weighted())
        patterns += Clusterer(group).add(weighted).patterns(window, sample)
        if found := lambda_reports(weighted, group, window):
            reports.append(found)
    sampling = fetched.sampling()
    notes = fetched.notes + [f"missing log group {f}" for f in fetched.failures]
    data = {
        "patterns": patterns,
        "path": fetched.path,
        "lambda_reports": reports,
        "sampling": sampling,
    }
    text = render(patterns, window, limit)
    text += "".join(f"\n- {report.line()}" for report in reports)
    text += "".join(f"\n- read: {line}" for line in sampling)
    return ToolResult(LogsTool.name, text, data, notes)
