"""Triage reasons from telemetry: the same symptoms with a different story around
them must change the answer. Each test tells one story through the emulator."""

from datetime import timedelta

from bot.config import BUNDLED_RUNBOOKS
from bot.engine.investigate import investigate
from bot.engine.runbooks import load_runbooks
from bot.models import Category
from bot.sim.expand import expand
from bot.sim.scenario import parse_scenario
from bot.sim.seeding import seed
from tests.conftest import T0
from tests.factories import FUNCTION, MODEL, base_scenario, error_lines, errors_from

RUNBOOKS = load_runbooks(BUNDLED_RUNBOOKS)


def run(aws, data):
    scenario = parse_scenario(data, "story")
    telemetry = expand(scenario, T0)
    seed(aws, telemetry, "aws-cloudtrail-logs")
    investigation, _ = investigate(
        aws, telemetry.alarm, scenario.service, RUNBOOKS, now=T0 + timedelta(minutes=5)
    )
    return investigation


def deploy(
    at: str, resource: str = FUNCTION, name: str = "UpdateFunctionCode20150331v2", **request
):
    return {
        "at": at,
        "event_source": "lambda.amazonaws.com",
        "event_name": name,
        "resource": resource,
        "user": "arn:aws:sts::111122223333:assumed-role/deploy/ci",
        "request": {"functionName": resource, **request},
    }


def keyerror_story(change_at: str):
    data = base_scenario(changes=[deploy(change_at)])
    data["metrics"][1] = errors_from("-8m")
    data["logs"][0]["patterns"].append(
        error_lines(
            "[ERROR] {ts} {uuid} Traceback: body['completion']; KeyError: 'completion'", "-8m"
        )
    )
    return data


def test_new_exceptions_right_after_our_deploy_are_a_bad_deployment(aws):
    top = run(aws, keyerror_story("-9m")).top
    assert top.category is Category.BAD_DEPLOYMENT
    text = " ".join(top.evidence)
    assert "KeyError" in text and "UpdateFunctionCode20150331v2" in text
    assert "1 min before onset" in text
    assert top.runbook == "bad-deployment" and top.remediation


def test_the_same_exceptions_after_a_two_day_old_deploy_are_not_blamed_on_it(aws):
    investigation = run(aws, keyerror_story("-2d"))
    blamed = next(h for h in investigation.hypotheses if h.category is Category.BAD_DEPLOYMENT)
    assert blamed.confidence < 0.3
    assert not any("UpdateFunctionCode" in line for line in blamed.evidence)


def provider_story():
    data = base_scenario()
    data["metrics"][1] = errors_from("-10m", 12)
    data["metrics"].append(
        {
            "namespace": "AWS/Bedrock",
            "name": "InvocationLatency",
            "dimensions": {"ModelId": MODEL},
            "unit": "Milliseconds",
            "segments": [
                {"to": "-10m", "value": 900, "jitter": 0.1},
                {"from": "-10m", "value": 9000, "jitter": 0.1},
            ],
        }
    )
    data["logs"][0]["patterns"].append(
        error_lines(
            "[ERROR] {uuid} An error occurred (ModelTimeoutException) when calling the "
            "InvokeModel operation: Model has timed out",
            "-10m",
            "12/m",
        )
    )
    data["traces"][0]["phases"] = [
        {"from": "-10m", "spans": {"InvokeModel": {"duration": "9000ms"}}}
    ]
    return data


def test_model_timeouts_with_no_change_of_ours_are_the_provider(aws):
    top = run(aws, provider_story()).top
    assert top.category is Category.MODEL_PROVIDER_DEGRADATION
    assert "InvocationLatency" in " ".join(top.evidence)


def guardrail_story(side: str, with_prompt_change: bool):
    arn = "arn:aws:bedrock:us-east-1:111122223333:guardrail/gr1"
    data = base_scenario()
    data["service"]["bedrock"]["guardrails"] = [{"id": "gr1", "version": "2"}]
    data["alarm"] = {
        "name": "quote-guardrail-interventions",
        "namespace": "AWS/Bedrock/Guardrails",
        "metric": "InvocationsIntervened",
        "dimensions": {"GuardrailArn": arn, "GuardrailVersion": "2"},
        "statistic": "Sum",
        "period": 60,
        "threshold": 10,
    }
    surge = [{"to": "-12m", "value": 1}, {"from": "-12m", "value": 30, "jitter": 0.1}]
    data["metrics"] += [
        {
            "namespace": "AWS/Bedrock/Guardrails",
            "name": "InvocationsIntervened",
            "dimensions": {"GuardrailArn": arn, "GuardrailVersion": "2"},
            "unit": "Count",
            "segments": surge,
        },
        {
            "namespace": "AWS/Bedrock/Guardrails",
            "name": "InvocationsIntervened",
            "dimensions": {
                "GuardrailArn": arn,
                "GuardrailVersion": "2",
                "GuardrailPolicyType": "ContentPolicy",
                "GuardrailContentSource": side,
            },
            "unit": "Count",
            "segments": surge,
        },
    ]
    if with_prompt_change:
        data["changes"] = [
            deploy(
                "-14m",
                name="UpdateFunctionConfiguration20150331v2",
                environment={"variables": {"PROMPT_VERSION": "v9"}},
            )
        ]
    return data


def test_input_side_interventions_without_a_change_are_abuse(aws):
    top = run(aws, guardrail_story("Input", with_prompt_change=False)).top
    assert top.category is Category.GUARDRAIL_ABUSE
    assert "InvocationsIntervened" in " ".join(top.evidence)


def test_output_side_interventions_after_a_prompt_change_are_a_prompt_regression(aws):
    top = run(aws, guardrail_story("Output", with_prompt_change=True)).top
    assert top.category is Category.PROMPT_REGRESSION
    assert "PROMPT_VERSION=v9" in " ".join(top.evidence)


def slow_table_story():
    data = base_scenario()
    data["metrics"][1] = errors_from("-10m", 8)
    data["logs"][0]["patterns"].append(
        error_lines("Task timed out after 6.01 seconds", "-10m", "8/m")
    )
    data["traces"][0]["phases"] = [
        {
            "from": "-10m",
            "spans": {
                "GetItem": {
                    "duration": "5500ms",
                    "fault": 0.3,
                    "message": "ReadTimeout on DynamoDB GetItem",
                }
            },
        }
    ]
    return data


def test_timeouts_explained_by_a_slow_dependency_blame_the_dependency(aws):
    investigation = run(aws, slow_table_story())
    assert investigation.top.category is Category.DEPENDENCY_FAILURE
    assert "GetItem" in " ".join(investigation.top.evidence)


def test_every_category_is_scored_and_sorted(aws):
    investigation = run(aws, keyerror_story("-9m"))
    assert sorted(h.category for h in investigation.hypotheses) == sorted(Category)
    confidences = [h.confidence for h in investigation.hypotheses]
    assert confidences == sorted(confidences, reverse=True)
    assert sum(confidences) <= 1.0


def test_a_canary_that_fails_before_the_alarm_is_still_blamed_on_its_deploy(aws):
    data = base_scenario(
        changes=[deploy("-21m"), deploy("-9m", name="UpdateAlias20150331", functionVersion="18")]
    )
    data["metrics"][1] = {
        "namespace": "AWS/Lambda",
        "name": "Errors",
        "dimensions": {"FunctionName": FUNCTION},
        "unit": "Count",
        "segments": [
            {"to": "-20m", "value": 0},
            {"from": "-20m", "to": "-8m", "value": 2},
            {"from": "-8m", "value": 25, "jitter": 0.1},
        ],
    }
    line = "[ERROR] {uuid} ValidationError: 1 validation error for QuoteRequest"
    data["logs"][0]["patterns"] += [
        {"template": line, "rate": "2/m", "from": "-20m", "to": "-8m"},
        {"template": line, "rate": "25/m", "from": "-8m"},
    ]
    top = run(aws, data).top
    assert top.category is Category.BAD_DEPLOYMENT
    assert "UpdateFunctionCode20150331v2" in " ".join(top.evidence)


def test_a_tag_write_right_before_new_exceptions_is_not_blamed_for_them(aws):
    """Routine writes (tagging, log retention) change nothing requests depend on: the same
    new KeyErrors after a TagResource and a PutRetentionPolicy are no bad deployment."""
    data = keyerror_story("-9m")
    data["changes"] = [
        deploy("-9m", name="TagResource"),
        {**deploy("-8m", name="PutRetentionPolicy"), "event_source": "logs.amazonaws.com"},
    ]
    investigation = run(aws, data)
    blamed = next(h for h in investigation.hypotheses if h.category is Category.BAD_DEPLOYMENT)
    assert blamed.confidence < 0.3
    assert not any(line.startswith("causal change") for line in blamed.evidence)
