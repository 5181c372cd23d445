"""A scenario replayed into an AWS endpoint, its alarm received as the bot receives one.

`replay` seeds a scenario (T0 = now - tail) into any endpoint and passes its alarm through
the real SNS parser; `emulated` does it inside an in-process emulator that lives for a
`with` block. The demo, `investigate --offline`, `simulate`, the tests and the benches all
replay scenarios this way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bot.config import Settings
from bot.engine.catalog import Catalog
from bot.ingest.alarms import parse_alarm_payload
from bot.models import Alarm, ServiceEntry
from bot.sim.emulator import emulator_session, running_emulator
from bot.sim.expand import Telemetry, anchor_t0, expand
from bot.sim.payloads import sns_notification
from bot.sim.scenario import Scenario, load_scenario
from bot.sim.seeding import seed
from tools.aws import AwsClients


@dataclass
class ScenarioReplay:
    """A scenario seeded into an endpoint, and its alarm as the bot received it."""

    scenario: Scenario
    telemetry: Telemetry
    aws: AwsClients
    alarm: Alarm
    service: ServiceEntry | None
    notification: dict
    seed_seconds: float


def replay(scenario: Scenario, aws: AwsClients, settings: Settings) -> ScenarioReplay:
    """Seed a scenario (T0 = now - tail) and receive its alarm through the SNS parser."""
    began = time.monotonic()
    telemetry = expand(scenario, anchor_t0(scenario))
    seed(aws, telemetry, settings.cloudtrail_log_group)
    notification = sns_notification(telemetry.alarm)
    alarm = parse_alarm_payload(json.dumps(notification)).alarm
    service = Catalog(services=[scenario.service]).resolve(alarm)
    return ScenarioReplay(
        scenario, telemetry, aws, alarm, service, notification, time.monotonic() - began
    )


@contextmanager
def emulated(scenario_path: Path | str, settings: Settings) -> Iterator[ScenarioReplay]:
    """A scenario replayed into an in-process emulator that lives for the block."""
    scenario = load_scenario(scenario_path)
    with running_emulator() as url:
        aws = AwsClients(scenario.region, url, emulator_session(scenario.region))
        yield replay(scenario, aws, settings)
