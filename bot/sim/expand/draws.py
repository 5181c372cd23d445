"""Seeded draws and time spans, shared by every expander.

Every random choice of an expansion draws from a stream keyed by the scenario's `seed`
and the item's position (`seeded(seed, "logs", 2, "pattern", 0)`), so that two expansions
with the same seed and T0 are identical and editing one log pattern does not reshuffle
the others. The noise is for realism, not security.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta

from bot.sim.scenario import Scenario


def seeded(seed: int, *key: object) -> random.Random:
    """The random stream of one item of a scenario."""
    # Reproducible noise for synthetic telemetry, not security: a seeded PRNG is the point.
    return random.Random(":".join(str(part) for part in (seed, *key)))  # noqa: S311


def window_span(
    spec_start: timedelta | None, spec_end: timedelta | None, scenario: Scenario
) -> tuple[timedelta, timedelta]:
    """An item's `from`/`to`, the scenario's window where either is left out."""
    start = spec_start if spec_start is not None else scenario.window.start
    end = spec_end if spec_end is not None else scenario.window.tail
    return start, end


def jittered(value: float, jitter: float, rng: random.Random) -> float:
    if jitter <= 0:
        return value
    return value * (1 + rng.uniform(-jitter, jitter))


def spread(start: datetime, end: datetime, per_second: float, rng: random.Random):
    """`rate` events spread evenly in [start, end), each jittered within its interval."""
    seconds = (end - start).total_seconds()
    count = int(per_second * seconds + 1e-9)
    if count <= 0:
        return []
    interval = seconds / count
    return [start + timedelta(seconds=(i + rng.random()) * interval) for i in range(count)]


def epoch_ms(at: datetime) -> int:
    return int(at.timestamp() * 1000)
