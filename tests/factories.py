"""Small scenario builders for tests: one story, told with as little YAML as possible."""

from __future__ import annotations

import copy
from typing import Any

from bot.models import Alarm, AlarmState
from tests.conftest import T0

FUNCTION = "quote-api"
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


def base_scenario(**overrides: Any) -> dict[str, Any]:
    """A quiet service: steady invocations, INFO logs, healthy traces, no changes."""
    data: dict[str, Any] = {
        "version": 1,
        "id": "test-scenario",
        "seed": 3,
        "region": "us-east-1",
        "account": "111122223333",
        "window": {"start": "-60m", "tail": "5m"},
        "service": {
            "name": "quote",
            "lambda_functions": [FUNCTION],
            "log_groups": [f"/aws/lambda/{FUNCTION}"],
            "xray_service_names": [FUNCTION],
            "bedrock": {"model_ids": [MODEL]},
        },
        "alarm": {
            "name": "quote-api-errors",
            "namespace": "AWS/Lambda",
            "metric": "Errors",
            "dimensions": {"FunctionName": FUNCTION},
            "statistic": "Sum",
            "period": 60,
            "evaluation_periods": 2,
            "threshold": 3,
            "comparison": "GreaterThanThreshold",
        },
        "metrics": [
            {
                "namespace": "AWS/Lambda",
                "name": "Invocations",
                "dimensions": {"FunctionName": FUNCTION},
                "unit": "Count",
                "segments": [{"value": 30, "jitter": 0.1}],
            },
            {
                "namespace": "AWS/Lambda",
                "name": "Errors",
                "dimensions": {"FunctionName": FUNCTION},
                "unit": "Count",
                "segments": [{"value": 0}],
            },
        ],
        "logs": [
            {
                "group": f"/aws/lambda/{FUNCTION}",
                "patterns": [
                    {
                        "template": "[INFO] {ts} {uuid} quote ok latency_ms={int:300-900}",
                        "rate": "30/m",
                    }
                ],
            }
        ],
        "traces": [
            {
                "name": "quote",
                "rate": "10/m",
                "root": {"service": FUNCTION, "name": "POST /quote", "duration": "1200ms"},
                "spans": [
                    {
                        "name": "GetItem",
                        "service": "DynamoDB",
                        "namespace": "aws",
                        "duration": "20ms",
                    },
                    {
                        "name": "InvokeModel",
                        "service": "bedrock-runtime",
                        "namespace": "aws",
                        "duration": "900ms",
                    },
                ],
            }
        ],
        "changes": [],
    }
    return _merge(data, overrides)


def _merge(data: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    merged = copy.deepcopy(data)
    for key, value in overrides.items():
        merged[key] = value
    return merged


def errors_from(at: str, value: int = 20) -> dict[str, Any]:
    return {
        "namespace": "AWS/Lambda",
        "name": "Errors",
        "dimensions": {"FunctionName": FUNCTION},
        "unit": "Count",
        "segments": [{"to": at, "value": 0}, {"from": at, "value": value, "jitter": 0.1}],
    }


def error_lines(template: str, at: str, rate: str = "20/m") -> dict[str, Any]:
    return {"template": template, "rate": rate, "from": at}


# One alarm as CloudWatch would deliver it, for tests of what happens to a delivery.
ALARM = Alarm(
    name="quote-api-errors",
    description="Errors in the quote API",
    namespace="AWS/Lambda",
    metric="Errors",
    dimensions={"FunctionName": "quote-api"},
    statistic="Sum",
    period=60,
    evaluation_periods=2,
    threshold=3,
    comparison="GreaterThanThreshold",
    previous_state=AlarmState.OK,
    reason="Threshold Crossed: 2 datapoints [9.0, 8.0] were greater than the threshold (3.0).",
    changed_at=T0,
    region="eu-west-1",
    account="111122223333",
    arn="arn:aws:cloudwatch:eu-west-1:111122223333:alarm:quote-api-errors",
)
