"""Links into the AWS console that open exactly what the analysis talks about: the
alarm, the alarm's metric over the incident window, a Logs Insights query over the
service's log groups for that window, and X-Ray traces for it.

The console keeps its state in the URL fragment in its own notation: `~(...)` for
objects and lists, `~'` before a string, and strings percent-encoded with `*` in place
of `%`; the Logs Insights page puts it behind an encoded query string (`$3F` for `?`,
`$3D` for `=`).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from urllib.parse import quote

from bot.models import Alarm

ERROR_QUERY = (
    "fields @timestamp, @log, @message\n"
    "| filter @message like /(?i)(error|exception|throttl|timeout|denied|fail)/\n"
    "| sort @timestamp desc\n| limit 200"
)


def _text(value: str) -> str:
    return "'" + quote(value, safe="").replace("%", "*")


def _time(at: datetime) -> str:
    return _text(at.strftime("%Y-%m-%dT%H:%M:%S.000Z"))


def console_url(alarm: Alarm, fragment: str = "") -> str:
    base = f"https://{alarm.region}.console.aws.amazon.com/cloudwatch/home?region={alarm.region}"
    return base + (fragment or f"#alarmsV2:alarm/{quote(alarm.name, safe='')}")


def window(alarm: Alarm, onset: datetime | None) -> tuple[datetime, datetime]:
    """From a quarter hour before the onset (or half an hour before the alarm) to ten
    minutes after the alarm: the change and what led to it."""
    start = (onset or alarm.changed_at - timedelta(minutes=15)) - timedelta(minutes=15)
    return start, alarm.changed_at + timedelta(minutes=10)


def metric_url(alarm: Alarm, start: datetime, end: datetime) -> str:
    dims = "".join(f"~{_text(k)}~{_text(v)}" for k, v in alarm.dimensions.items())
    metric = f"~(~{_text(alarm.namespace)}~{_text(alarm.metric)}{dims})"
    graph = (
        f"~(metrics~({metric})~view~'timeSeries~stacked~false~region~{_text(alarm.region)}"
        f"~stat~{_text(alarm.statistic)}~period~60~start~{_time(start)}~end~{_time(end)})"
    )
    return console_url(alarm, f"#metricsV2?graph={graph}")


def logs_insights_url(alarm: Alarm, groups: list[str], start: datetime, end: datetime) -> str:
    sources = "".join(f"~{_text(g)}" for g in groups)
    detail = (
        f"~(end~{_time(end)}~start~{_time(start)}~timeType~'ABSOLUTE~tz~'UTC"
        f"~editorString~{_text(ERROR_QUERY)}~source~({sources}))"
    )
    return console_url(alarm, f"#logsV2:logs-insights$3FqueryDetail$3D{detail}")


def traces_url(alarm: Alarm, start: datetime, end: datetime) -> str:
    span = f"(timeRange~(end~{_time(end)}~start~{_time(start)}))"
    return console_url(alarm, f"#xray:traces/query~(context~{span})")


def log_group_url(alarm: Alarm, group: str) -> str:
    encoded = quote(quote(group, safe=""), safe="").replace("%", "$")
    return console_url(alarm, f"#logsV2:log-groups/log-group/{encoded}")
