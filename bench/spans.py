"""Span tool wall time and answer size over an agent's spans in `aws/spans`.

Seeds the span events of an OTel-instrumented agent (turns at a steady rate, a runaway
loop and a failing tool from T0-10m) into the fake Logs endpoint on loopback, then runs
the span tool through Logs Insights (the fake endpoint) and through the bounded
FilterLogEvents read (what an endpoint without Logs Insights gets), and prints spans
seeded, wall time, queries and the answer's size in tokens.

    .venv/bin/python bench/spans.py [--per-minute 20]

With scenario files (`bench/spans.py scenarios/*spans*.yaml`), each is replayed into moto
behind the same loopback fakes (Transaction Search on) and investigated as an alarm is:
per scenario, the spans seeded, the span source's wall time, the size of its evidence
section and whether the right category came first with its evidence.
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


def per_scenario(paths: list[Path]) -> int:
    """The span source on each scenario, investigated through the loopback fakes."""
    from bot.config import BUNDLED_RUNBOOKS, Settings
    from bot.engine.evidence import estimate_tokens
    from bot.engine.investigate import gather_options, investigate
    from bot.engine.runbooks import load_runbooks
    from bot.sim.emulator import running_emulator
    from bot.sim.fakes.router import aws_router
    from bot.sim.replay import replay
    from bot.sim.scenario import load_scenario

    settings, runbooks = Settings(), load_runbooks(BUNDLED_RUNBOOKS)
    print(f"{'scenario':60} {'spans':>7} {'span s':>7} {'tokens':>6}  top-1")
    right = 0
    for path in paths:
        scenario = load_scenario(path)
        logs, xray = FakeLogs(), FakeXRay(destination="CloudWatchLogs")
        with running_emulator() as moto, serve(aws_router(moto, logs.handler, xray.handler)) as url:
            aws = AwsClients(scenario.region, url, emulator_session(scenario.region))
            replayed = replay(scenario, aws, settings)
            found, bundle = investigate(
                aws,
                replayed.alarm,
                replayed.service,
                runbooks,
                options=gather_options(settings),
            )
        spans = sum(len(stream.events) for stream in replayed.telemetry.spans)
        section = bundle.results.get("spans")
        tokens = estimate_tokens(section.text) if section else 0
        top = found.hypotheses[0]
        expected = scenario.expected
        hits = sum(any(k in line for line in top.evidence) for k in expected.evidence)
        ok = top.category == expected.category
        right += ok
        print(
            f"{path.name[:60]:60} {spans:>7,} {bundle.timings.get('spans', 0.0):>6.2f}s "
            f"{tokens:>6}  {'ok' if ok else 'WRONG'} {top.category.value} "
            f"evidence {hits}/{len(expected.evidence)}"
        )
    print(f"top-1 {right}/{len(paths)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--per-minute", type=float, default=20.0, help="agent turns a minute")
    parser.add_argument("scenarios", nargs="*", type=Path, help="scenario files with spans")
    args = parser.parse_args(argv)
    if args.scenarios:
        return per_scenario(args.scenarios)
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
