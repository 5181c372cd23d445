"""Round trip of `export-scenario` over every scenario of the given folders.

For each scenario: replay it into the emulator, investigate it offline, store the
incident and its analysis (with a 👍), export the incident back to a scenario file from
what the read-only tools read out of the emulator, then replay and investigate the
exported file offline as `investigate --scenario FILE --offline` does. The exported file
must reach the same top category. Prints the export time and file size per scenario.

    python bench/export.py [FOLDER ...]            (default: scenarios)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from bot.config import BUNDLED_SCENARIOS, Settings
from bot.engine.catalog import Catalog
from bot.engine.investigate import gather_options, investigate
from bot.engine.runbooks import load_runbooks
from bot.sim.emulator import emulator_session, reset_emulator, running_emulator
from bot.sim.export import export_scenario, write_scenario
from bot.sim.replay import replay
from bot.sim.scenario import load_scenario, scenario_files
from bot.store import Store
from bot.store.schema import upgrade
from tools.aws import AwsClients


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, default=[BUNDLED_SCENARIOS])
    args = parser.parse_args(argv)
    settings = Settings(_env_file=None)
    books = load_runbooks(settings.runbooks_dir)
    failed: list[str] = []
    exports: list[float] = []
    with tempfile.TemporaryDirectory() as folder, running_emulator() as url:
        database = f"sqlite:///{Path(folder) / 'bench.db'}"
        upgrade(database)
        store = Store(database)
        paths = [p for f in args.folders for p in scenario_files(f)]
        began_all = time.monotonic()
        for number, path in enumerate(paths):
            scenario = load_scenario(path)
            reset_emulator(url)
            aws = AwsClients(scenario.region, url, emulator_session(scenario.region))
            run = replay(scenario, aws, settings)
            found, bundle = investigate(
                aws, run.alarm, run.service, books, now=run.telemetry.end,
                options=gather_options(settings),
            )  # fmt: skip
            delivery = store.incidents.record_alarm(
                f"bench-{number}", run.alarm, scenario.service.name, timedelta(minutes=30)
            )
            assert delivery.incident is not None
            analysis = store.analyses.add(delivery.incident.id, found, bundle.render(), 1.0)
            store.feedback.vote(analysis.id, "bench", 1)
            began = time.monotonic()
            data = export_scenario(
                store,
                delivery.incident.id,
                aws,
                Catalog(services=[scenario.service]),
                settings,
                now=run.telemetry.end,
            )
            out = Path(folder) / path.name
            write_scenario(data, out)
            exports.append(time.monotonic() - began)
            exported = load_scenario(out)
            reset_emulator(url)
            aws = AwsClients(exported.region, url, emulator_session(exported.region))
            again_run = replay(exported, aws, settings)
            again, _ = investigate(
                aws, again_run.alarm, again_run.service, books, now=again_run.telemetry.end,
                options=gather_options(settings),
            )  # fmt: skip
            before = found.top.category.value if found.top else "-"
            after = again.top.category.value if again.top else "-"
            same = before == after
            if not same:
                failed.append(path.name)
            print(
                f"{'ok  ' if same else 'DIFF'} {path.name:62} {before:27} -> {after:27} "
                f"export {exports[-1]:.1f}s {out.stat().st_size / 1024:.0f} KB",
                flush=True,
            )
        total = time.monotonic() - began_all
    print(
        f"\n{len(paths) - len(failed)}/{len(paths)} exported scenarios reach the same top "
        f"category; export median {statistics.median(exports):.1f}s, max {max(exports):.1f}s; "
        f"{total:.0f}s in all"
    )
    if failed:
        print(f"different: {failed}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
