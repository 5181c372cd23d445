"""Evidence gathering against a slow AWS: every call through a proxy adding 300 ms.

Prints each source's time when run alone, the wall time of the concurrent gather
(including the onset query that precedes it), and their ratio (target: <= 1.3).

    python bench/evidence.py [SCENARIO] [--delay 0.3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path

from bot.config import BUNDLED_SCENARIOS, load_settings
from bot.engine.evidence import _jobs, gather
from bot.engine.investigate import gather_options
from bot.engine.onset import find_onset
from bot.sim.emulator import emulator_session, running_emulator
from bot.sim.fakes.http import latency_proxy, serve
from bot.sim.replay import replay
from bot.sim.scenario import load_scenario
from tools.aws import AwsClients
from tools.base import TimeRange

DEFAULT = BUNDLED_SCENARIOS / "demo-model-throttling-retry-storm.yaml"


def _aws_side(pipe: Connection, delay: float) -> None:
    """The emulated AWS in a process of its own, as AWS is on machines of its own: moto on
    loopback and, in front of it, a proxy adding `delay` to every call."""
    with running_emulator() as url, serve(latency_proxy(url, delay)) as slow_url:
        pipe.send((url, slow_url))
        pipe.recv()  # run until the benchmark says it is done


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("scenario", nargs="?", type=Path, default=DEFAULT)
    parser.add_argument("--delay", type=float, default=0.3, help="seconds added to each call")
    args = parser.parse_args(argv)
    settings = load_settings()
    options = gather_options(settings)
    scenario = load_scenario(args.scenario)
    ours, theirs = multiprocessing.get_context("spawn").Pipe()
    aws_side = multiprocessing.get_context("spawn").Process(
        target=_aws_side, args=(theirs, args.delay), daemon=True
    )
    aws_side.start()
    url, slow_url = ours.recv()
    try:
        direct = AwsClients(scenario.region, url, emulator_session(scenario.region))
        run = replay(scenario, direct, settings)
        now = run.telemetry.end
        slow = AwsClients(scenario.region, slow_url, emulator_session(scenario.region))
        alarm = run.alarm
        start = alarm.changed_at - options.lookback
        end = min(now, alarm.changed_at + options.after_alarm)
        # Warm up once: capability probes are cached per endpoint in a running bot, so
        # both measurements below see the steady state.
        gather(slow, alarm, run.service, now=now, options=options)
        began = time.monotonic()
        onset, _, _ = find_onset(slow, alarm, start, end)
        alone = {"onset query": time.monotonic() - began}
        window = TimeRange(start=start, end=end, onset=onset, t0=alarm.changed_at)
        span = TimeRange(start=start, end=end, onset=end, t0=alarm.changed_at)
        jobs = _jobs(slow, alarm, run.service, span, lambda: window, options)
        for name, job in jobs.items():
            began = time.monotonic()
            job()
            alone[name] = time.monotonic() - began
        began = time.monotonic()
        bundle = gather(slow, alarm, run.service, now=now, options=options)
        wall = time.monotonic() - began
    finally:
        ours.send("done")
        aws_side.join(timeout=10)
    slowest_name = max((k for k in alone if k != "onset query"), key=alone.get)
    print(f"scenario {args.scenario.name}, {args.delay * 1000:.0f} ms added to every AWS call")
    for name, seconds in alone.items():
        print(f"  {name:12} alone {seconds:6.2f}s")
    print(f"  concurrent gather (onset query + all sources): {wall:.2f}s")
    print(
        f"  ratio to the slowest single source ({slowest_name}): "
        f"{wall / alone[slowest_name]:.2f}x (target <= 1.3x)"
    )
    print(f"  missing: {bundle.missing or 'none'}; evidence tokens {bundle.tokens}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
