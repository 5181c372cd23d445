"""The real alarm payloads of ../shared/realdata/alarms, read by `check-alarm`.

How many of them the bot reads at all, and how many of the fields their sources list
(name, states, region, account, kind, namespace/metric/dimensions, expressions and the
metrics they read, composite rule and children, muting, delivery, decision) it reads
right. The tests assert the same through the real entry points
(tests/flows/test_alarm_entry_points.py); this prints the figure.

    python bench/realdata.py [FOLDER]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # the scoring is the tests' (tests/fixtures/payloads.py)

from bot.cli.check_alarm import check_payload  # noqa: E402
from bot.config import Settings  # noqa: E402
from tests.fixtures import payloads  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", nargs="?", type=Path, default=payloads.REALDATA)
    args = parser.parse_args(argv)
    payloads.REALDATA = args.folder
    names = payloads.realdata_names()
    if not names:
        print(f"no payloads in {args.folder}")
        return 1
    expected = payloads.realdata_expected()
    settings = Settings(_env_file=None)  # no allow-list: the payloads come from many accounts
    parsed = right = checked = 0
    for name in names:
        found = check_payload((args.folder / name).read_bytes(), settings)
        if all(f["alarm"] for f in found):
            parsed += 1
        ok, total, wrong = payloads.score(expected[name], found[0])
        right, checked = right + ok, checked + total
        for problem in wrong:
            print(f"  {name}: {problem}")
    print(f"check-alarm: {parsed} of {len(names)} parsed, {right} of {checked} fields right")
    return 0


if __name__ == "__main__":
    sys.exit(main())
