"""The verdict of an investigation, from telemetry: one clear cause is named; several
unrelated failures starting together, or nothing at all, leave it undetermined with the
two best candidates and what would tell them apart."""

from __future__ import annotations

import json
from datetime import timedelta

from bot.config import BUNDLED_RUNBOOKS
from bot.engine.investigate import investigate
from bot.engine.runbooks import load_runbooks
from bot.models import Category, Verdict
from bot.sim.expand import expand
from bot.sim.scenario import parse_scenario
from bot.sim.seeding import seed
from tests.conftest import T0
from tests.factories import MODEL, base_scenario, error_lines, errors_from

RUNBOOKS = load_runbooks(BUNDLED_RUNBOOKS)


def run(aws, data):
    scenario = parse_scenario(data, "story")
    telemetry = expand(scenario, T0)
    seed(aws, telemetry, "aws-cloudtrail-logs")
    found, _ = investigate(
        aws, telemetry.alarm, scenario.service, RUNBOOKS, now=T0 + timedelta(minutes=5)
    )
    return found


def throttles(at: str) -> dict:
    return {
        "namespace": "AWS/Bedrock",
        "name": "InvocationThrottles",
        "dimensions": {"ModelId": MODEL},
        "unit": "Count",
        "segments": [{"to": at, "value": 0}, {"from": at, "value": 12, "jitter": 0.1}],
    }


def everything_at_once() -> dict:
    """Throttles, an AccessDenied, a 502 from upstream and model timeouts, all from -8m."""
    data = base_scenario()
    data["metrics"][1] = errors_from("-8m")
    data["metrics"].append(throttles("-8m"))
    for line in (
        "botocore.errorfactory.AccessDeniedException: An error occurred "
        "(AccessDeniedException) when calling the GetItem operation: not authorized",
        "request failed: upstream answered 502 Bad Gateway",
        "botocore.errorfactory.ModelTimeoutException: An error occurred (ModelTimeoutException) "
        "when calling the InvokeModel operation: Model has timed out in processing the request.",
    ):
        data["logs"][0]["patterns"].append(error_lines(f"[ERROR] {{ts}} {{uuid}} {line}", "-8m"))
    return data


def test_unrelated_failures_starting_together_are_undetermined(aws):
    found = run(aws, everything_at_once())
    assert found.verdict is Verdict.UNDETERMINED
    first, second = found.hypotheses[:2]
    assert first.confidence < 0.5 and second.confidence > 0
    assert {first.category, second.category} <= {
        Category.ACCESS_DENIED,
        Category.MODEL_THROTTLING,
        Category.DEPENDENCY_FAILURE,
        Category.MODEL_PROVIDER_DEGRADATION,
    }
    assert len(found.separating) == 2
    assert found.separating[0].startswith(f"{first.title.split(':')[0]} would show")
    shown = json.loads(found.model_dump_json())
    assert (
        shown["verdict"] == "undetermined" and shown["hypotheses"][0]["category"] == first.category
    )


def test_a_quiet_service_is_undetermined_for_lack_of_evidence(aws):
    found = run(aws, base_scenario())
    assert found.verdict is Verdict.UNDETERMINED
    assert all(h.confidence == 0 for h in found.hypotheses)
    assert "no category has supporting evidence" in found.separating[0]


def test_one_clear_cause_is_determined_and_each_hypothesis_says_what_argues_against_it(aws):
    data = base_scenario()
    data["metrics"][1] = errors_from("-8m")
    data["metrics"].append(throttles("-8m"))
    data["logs"][0]["patterns"].append(
        error_lines(
            "[ERROR] {ts} {uuid} botocore.errorfactory.ThrottlingException: An error occurred "
            "(ThrottlingException) when calling the InvokeModel operation (reached max retries: "
            "4): Too many tokens, please wait before trying again.",
            "-8m",
        )
    )
    found = run(aws, data)
    assert found.verdict is Verdict.DETERMINED and found.separating == []
    assert found.top.category is Category.MODEL_THROTTLING and found.top.confidence >= 0.5
    against = {h.category: h.counter_evidence for h in found.hypotheses}
    assert any("no deploy or configuration change" in x for x in against[Category.BAD_DEPLOYMENT])
    assert any("AccessDenied" in x for x in against[Category.ACCESS_DENIED])
    assert not any("InvocationThrottles flat" in x for x in against[Category.MODEL_THROTTLING])
