"""Span tool wall time and answer size over an agent's spans in `aws/spans`.

Seeds the span events of an OTel-instrumented agent (turns at a steady rate, a runaway
loop and a failing tool from T0-10m) into the fake Logs endpoint on loopback, then runs
the span tool through Logs Insights (the fake endpoint) and through the bounded
FilterLogEvents read (what an endpoint without Logs Insights gets), and prints spans
seeded, wall time, queries and the answer's size in tokens.

    .venv/bin/python bench/spans.py [--per-minute 20]
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.sim.emulator import emulator_session
from bot.sim.fakes.http import serve
from bot.sim.fakes.logs import FakeLogs
from bot.sim.fakes.router import XRAY_PATHS
from bot.sim.fakes.xray import FakeXRay
from bot.sim.seeding import put_events
from tests.conftest import T0
from tests.fixtures.spans import Phase, agent_turns
from tools.aws import AwsClients
from tools.base import TimeRange
from tools.spans import SpansTool, analyze
from tools.spans.read import locate, read_filtered


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-minute", type=float, default=20.0, help="agent turns a minute")
    args = parser.parse_args(argv)
    logs, xray = FakeLogs(), FakeXRay(destination="CloudWatchLogs")

    def handle(path: str, headers: dict[str, str], body: bytes):
        if path.split("?", 1)[0] in XRAY_PATHS:
            return xray.handler(path, headers, body)
        return logs.handler(path, headers, body)

    start, end = T0 - timedelta(minutes=90), T0 + timedelta(minutes=5)
    onset = T0 - timedelta(minutes=10)
    phases = [(onset, Phase(steps=9, tool_error=0.3))]
    with serve(handle) as url:
        aws = AwsClients("us-east-1", url, emulator_session("us-east-1"))
        events = agent_turns(start, end, args.per_minute, phases)
        put_events(aws, "aws/spans", "otel", events)
        params = {"start": start, "end": end, "onset": onset, "t0": T0, "timeout_s": 60}
        began = time.monotonic()
        result = SpansTool(aws)(params)
        insights_s = time.monotonic() - began
        queries = sum(1 for c in logs.calls if c["operation"] == "StartQuery")
        window = TimeRange(start=start, end=end, onset=onset, t0=T0)
        began = time.monotonic()
        where = locate(aws, "aws/spans")
        read = read_filtered(aws, "aws/spans", window, [], time.monotonic() + 120)
        fallback = analyze(read, where, window)
        filter_s = time.monotonic() - began
    print(f"spans seeded: {len(events)} ({args.per_minute:g} turns/min over 95 min)")
    print(
        f"Logs Insights path: {insights_s:.2f} s wall, {queries} queries (incl. the probe), "
        f"answer {math.ceil(len(result.text) / 4)} tokens"
    )
    print(
        f"FilterLogEvents path: {filter_s:.2f} s wall, answer "
        f"{math.ceil(len(fallback.text) / 4)} tokens; {'; '.join(read.sampling) or 'all read'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
