"""The investigation pipeline: alarm -> evidence -> triage -> Investigation.

This module wires the parts; each part owns its own logic. The Slack layer, the
command line and the benchmarks all come through here, so they all investigate
the same way. With an `Agent` (`bot.agent.loop`) Claude confirms or corrects the triage;
without one, or when it falls back, the triage result is the analysis, labelled
`source="triage"`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config import Settings
from bot.engine.catalog import Catalog
from bot.engine.evidence import EvidenceBundle, GatherOptions, Progress, gather
from bot.engine.redact import redact
from bot.engine.runbooks import Runbook
from bot.engine.triage import triage
from bot.ingest.alarms import parse_alarm_payload, sns_notification
from bot.models import Alarm, AlarmState, Hypothesis, Investigation, ServiceEntry, utc
from bot.observe.telemetry import Telemetry as BotTelemetry
from bot.sim.emulator import emulator_session, running_emulator
from bot.sim.expand import Telemetry, anchor_t0, expand
from bot.sim.scenario import Scenario, load_scenario
from bot.sim.seeding import seed
from tools.aws import AwsClients

if TYPE_CHECKING:
    from bot.agent.loop import Agent


def gather_options(settings: Settings) -> GatherOptions:
    return GatherOptions(
        lookback=timedelta(minutes=settings.lookback_minutes),
        change_lookback=timedelta(hours=settings.change_lookback_hours),
        deadline_s=settings.evidence_deadline_s,
        cloudtrail_log_group=settings.cloudtrail_log_group,
    )


def investigate(
    aws: AwsClients,
    alarm: Alarm,
    service: ServiceEntry | None,
    runbooks: list[Runbook],
    *,
    now: datetime | None = None,
    options: GatherOptions | None = None,
    progress: Progress | None = None,
    agent: Agent | None = None,
    telemetry: BotTelemetry | None = None,
    incident_id: int | None = None,
) -> tuple[Investigation, EvidenceBundle]:
    """Evidence, triage and (with an agent) Claude's analysis for one alarm; never raises
    for a missing source or a failing LLM. The whole of it is one `invoke_agent` span
    (the agent's telemetry unless another is given), with or without an LLM."""
    telemetry = telemetry or (agent.telemetry if agent is not None else BotTelemetry.disabled())
    llm = agent is not None and agent.client is not None
    with telemetry.investigation(
        alarm,
        service=service.name if service else None,
        incident_id=incident_id,
        provider=agent.settings.llm_provider if llm and agent else None,
        model=agent.settings.llm_model if llm and agent else None,
    ) as span:
        investigation, bundle = _investigate(
            aws, alarm, service, runbooks, now, options, progress, agent
        )
        telemetry.investigated(span, investigation, agent.version if llm and agent else None)
    return investigation, bundle


def _investigate(
    aws: AwsClients,
    alarm: Alarm,
    service: ServiceEntry | None,
    runbooks: list[Runbook],
    now: datetime | None,
    options: GatherOptions | None,
    progress: Progress | None,
    agent: Agent | None,
) -> tuple[Investigation, EvidenceBundle]:
    bundle = gather(aws, alarm, service, now=now, options=options, progress=progress)
    hypotheses = [
        Hypothesis(
            **{**h.model_dump(), "evidence": [redact(line) for line in h.evidence]},
        )
        for h in triage(bundle, runbooks)
    ]
    investigation = Investigation(
        service=service.name if service else "unknown",
        alarm=alarm.name,
        hypotheses=hypotheses,
        evidence_tokens=bundle.tokens,
        onset=bundle.window.onset,
        missing=[f"{source}: {why}" for source, why in bundle.missing.items()],
        source="triage",
    )
    if agent is not None:
        investigation = agent.analyze(investigation, bundle, runbooks, aws)
    return investigation, bundle


def alarm_from_cloudwatch(record: dict) -> Alarm:
    """A `DescribeAlarms` MetricAlarms entry -> Alarm (T0 = its last state change)."""
    return Alarm(
        name=record["AlarmName"],
        description=record.get("AlarmDescription") or "",
        namespace=record.get("Namespace", ""),
        metric=record.get("MetricName", ""),
        dimensions={d["Name"]: d["Value"] for d in record.get("Dimensions", [])},
        statistic=record.get("ExtendedStatistic") or record.get("Statistic") or "Average",
        period=record.get("Period") or 60,
        evaluation_periods=record.get("EvaluationPeriods") or 1,
        threshold=record.get("Threshold") or 0.0,
        comparison=record.get("ComparisonOperator") or "GreaterThanThreshold",
        state=AlarmState(record.get("StateValue", "ALARM")),
        reason=record.get("StateReason") or "",
        changed_at=utc(record["StateUpdatedTimestamp"]),
        region=record.get("AlarmArn", "::::").split(":")[3] or "us-east-1",
        account=record.get("AlarmArn", ":::::").split(":")[4],
        arn=record.get("AlarmArn", ""),
    )


def describe_alarm(aws: AwsClients, name: str) -> Alarm | None:
    page = aws.client("cloudwatch").describe_alarms(AlarmNames=[name], AlarmTypes=["MetricAlarm"])
    found = page.get("MetricAlarms", [])
    return alarm_from_cloudwatch(found[0]) if found else None


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
