"""The investigation pipeline: alarm -> evidence -> triage -> Investigation.

This module wires the parts; each part owns its own logic. The Slack layer, the
command line and the benchmarks all come through here, so they all investigate
the same way. With an `Analyst` (the Claude agent of `bot.agent`, which sits above the
engine and is handed in) Claude confirms or corrects the triage; without one, or when it
falls back, the triage result is the analysis, labelled `source="triage"`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from bot.config import Settings
from bot.engine.calibration import decide
from bot.engine.catalog import target_clients
from bot.engine.evidence import EvidenceBundle, GatherOptions, Progress, gather
from bot.engine.memory import MAX_PRIOR, apply_prior, fingerprint
from bot.engine.redact import redact
from bot.engine.runbooks import Runbook
from bot.engine.triage import triage
from bot.models import (
    Alarm,
    AlarmState,
    Hypothesis,
    Investigation,
    PastIncident,
    ServiceEntry,
    utc,
)
from bot.observe.telemetry import Telemetry as BotTelemetry
from tools.aws import AwsClients


class Analyst(Protocol):
    """What confirms or corrects the triage: `bot.agent.loop.Agent` is the one there is."""

    telemetry: BotTelemetry

    @property
    def llm(self) -> tuple[str, str, str] | None:
        """(provider, model, prompt version) when an LLM is configured, else None."""

    def analyze(
        self,
        investigation: Investigation,
        bundle: EvidenceBundle,
        runbooks: list[Runbook],
        aws: AwsClients,
    ) -> Investigation: ...


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
    agent: Analyst | None = None,
    telemetry: BotTelemetry | None = None,
    incident_id: int | None = None,
    past: Sequence[PastIncident] = (),
    max_prior: float = MAX_PRIOR,
) -> tuple[Investigation, EvidenceBundle]:
    """Evidence, triage and (with an agent) Claude's analysis for one alarm; never raises
    for a missing source or a failing LLM. The whole of it is one `invoke_agent` span
    (the agent's telemetry unless another is given), with or without an LLM. `past` are
    earlier incidents of the service (`bot.engine.memory`): the similar ones are shown,
    weigh on the triage as a bounded prior and are given to the agent."""
    telemetry = telemetry or (agent.telemetry if agent is not None else BotTelemetry.disabled())
    llm = agent.llm if agent is not None else None
    with telemetry.investigation(
        alarm,
        service=service.name if service else None,
        incident_id=incident_id,
        provider=llm[0] if llm else None,
        model=llm[1] if llm else None,
    ) as span:
        investigation, bundle = _investigate(
            aws, alarm, service, runbooks, now, options, progress, agent, past, max_prior
        )
        telemetry.investigated(span, investigation, llm[2] if llm else None)
    return investigation, bundle


def _investigate(
    aws: AwsClients,
    alarm: Alarm,
    service: ServiceEntry | None,
    runbooks: list[Runbook],
    now: datetime | None,
    options: GatherOptions | None,
    progress: Progress | None,
    agent: Analyst | None,
    past: Sequence[PastIncident] = (),
    max_prior: float = MAX_PRIOR,
) -> tuple[Investigation, EvidenceBundle]:
    aws = target_clients(aws, alarm, service)  # the agent's tool calls read where gather did
    bundle = gather(aws, alarm, service, now=now, options=options, progress=progress)
    hypotheses = [
        Hypothesis(
            **{
                **h.model_dump(),
                "evidence": [redact(line) for line in h.evidence],
                "counter_evidence": [redact(line) for line in h.counter_evidence],
            },
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
        sampling=[redact(line) for line in bundle.sampling],
        source="triage",
    )
    # Memory is its own step after the triage: the fingerprint is what the triage saw.
    seen = fingerprint(investigation, bundle)
    investigation = apply_prior(investigation, seen, past, max_prior)
    investigation.fingerprint = seen
    if agent is not None:
        investigation = agent.analyze(investigation, bundle, runbooks, aws)
    return with_verdict(investigation, hypotheses), bundle


def with_verdict(investigation: Investigation, triaged: Sequence[Hypothesis]) -> Investigation:
    """The verdict taken on the final ranking (after the prior and any LLM answer, so the
    two always agree), and the triage's counter-evidence kept on a hypothesis the LLM
    rewrote."""
    against = {h.category: h.counter_evidence for h in triaged}
    hypotheses = [
        h if h.counter_evidence else h.model_copy(update={"counter_evidence": against[h.category]})
        for h in investigation.hypotheses
    ]
    verdict, separating = decide(hypotheses)
    return investigation.model_copy(
        update={"hypotheses": hypotheses, "verdict": verdict, "separating": separating}
    )


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
