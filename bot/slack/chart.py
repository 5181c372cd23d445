"""A PNG chart of the alarm's metric: what the on-call engineer looks at first.

Threshold, onset and alarm time are drawn on it, so the chart alone says when the
incident began and how far past the threshold it went. Rendered with matplotlib's
Agg backend: no display, safe in a server or a Lambda.
"""

from __future__ import annotations

import io
from datetime import datetime

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates
import matplotlib.pyplot as plt

from bot.models import Alarm


def metric_chart(
    alarm: Alarm,
    points: list[tuple[datetime, float]],
    onset: datetime | None = None,
    statistic: str | None = None,
) -> bytes:
    """PNG bytes of the alarm metric with its threshold, the onset and T0 marked.
    `statistic` is the one actually plotted, when the endpoint refused the alarm's own."""
    figure, axes = plt.subplots(figsize=(8, 3.2), dpi=100)
    try:
        if points:
            times, values = zip(*points, strict=True)
            axes.plot(times, values, color="#1f77b4", linewidth=1.6, label=alarm.metric)
        axes.axhline(
            alarm.threshold, color="#d62728", linestyle="--", linewidth=1, label="threshold"
        )
        axes.axvline(alarm.changed_at, color="#444444", linewidth=1, label="alarm (T0)")
        if onset is not None and onset != alarm.changed_at:
            axes.axvline(onset, color="#ff7f0e", linestyle=":", linewidth=1.4, label="onset")
        shown = statistic or alarm.statistic
        if shown != alarm.statistic:
            shown = f"{shown}; {alarm.statistic} unavailable"
        axes.set_title(f"{alarm.name}\n{alarm.namespace} {alarm.metric} ({shown})", fontsize=9)
        axes.xaxis.set_major_formatter(mdates.DateFormatter("%H:%M"))
        axes.grid(alpha=0.3)
        axes.legend(loc="upper left", fontsize=8)
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        return buffer.getvalue()
    finally:
        plt.close(figure)
