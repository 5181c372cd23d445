"""Span volume of the scenarios that have `spans` (format 1.1): how many events, how big,
how long to expand them and to seed them into the emulator with PutLogEvents.

For each scenario of the folders with a `spans` list: span events and traces, mean event
size in bytes, expansion seconds (the whole scenario), seeding seconds of the spans alone
into a fresh in-process emulator, and spans seeded per second.

    python bench/span_seeding.py [FOLDER ...]      (default: scenarios)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from bot.config import BUNDLED_SCENARIOS
from bot.sim.emulator import emulator_session, reset_emulator, running_emulator
from bot.sim.expand import anchor_t0, expand
from bot.sim.scenario import load_scenario, scenario_files
from bot.sim.seeding import seed_spans
from tools.aws import AwsClients


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[BUNDLED_SCENARIOS])
    args = parser.parse_args(argv)
    scenarios = [load_scenario(path) for path in scenario_files(*args.folders)]
    with_spans = [scenario for scenario in scenarios if scenario.spans]
    if not with_spans:
        print("no scenario with spans")
        return 1
    head = ("scenario", "spans", "traces", "bytes", "expand", "seed", "/s")
    print(f"{head[0]:62} " + " ".join(f"{word:>7}" for word in head[1:]))
    with running_emulator() as url:
        for scenario in with_spans:
            began = time.perf_counter()
            telemetry = expand(scenario, anchor_t0(scenario))
            expanded = time.perf_counter() - began
            events = [event for stream in telemetry.spans for event in stream.events]
            traces = {json.loads(event.message)["traceId"] for event in events}
            size = sum(len(event.message.encode()) for event in events) / max(1, len(events))
            reset_emulator(url)
            aws = AwsClients(scenario.region, url, emulator_session(scenario.region))
            began = time.perf_counter()
            seeded = seed_spans(aws, telemetry)
            seconds = time.perf_counter() - began
            print(
                f"{scenario.id[:62]:62} {seeded:7d} {len(traces):7d} {size:7.0f} "
                f"{expanded:6.2f}s {seconds:6.2f}s {seeded / seconds:7.0f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
