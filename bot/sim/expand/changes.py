"""Scenario changes as the CloudTrail events `LookupEvents` returns.

The changes tool reads CloudTrail's own record (the `CloudTrailEvent` JSON) as well as
the summary fields around it, and seeding writes that record to the log group a trail
delivers to (`bot.sim.seeding`), where the tool reads it when `LookupEvents` is not
there; so each change is expanded once, in full, as AWS would return it.
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from bot.sim.expand.draws import seeded
from bot.sim.scenario import Scenario


def expand_change(scenario: Scenario, index: int, t0: datetime) -> dict[str, Any]:
    """A change -> a CloudTrail event as `LookupEvents` returns it."""
    change = scenario.changes[index]
    rng = seeded(scenario.seed, "change", index)
    at = t0 + change.at
    event_id = str(uuid.UUID(int=rng.getrandbits(128), version=4))
    user = change.user or f"arn:aws:iam::{scenario.account}:user/unknown"
    record = {
        "eventVersion": "1.09",
        "userIdentity": {"type": _identity_type(user), "arn": user, "accountId": scenario.account},
        "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": change.event_source,
        "eventName": change.event_name,
        "awsRegion": scenario.region,
        "sourceIPAddress": "AWS Internal",
        "userAgent": "aws-cli/2",
        "requestParameters": change.request or None,
        "responseElements": None,
        "requestID": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        "eventID": event_id,
        "readOnly": False,
        "eventType": "AwsApiCall",
        "managementEvent": True,
        "recipientAccountId": scenario.account,
    }
    resources = []
    if change.resource:
        resources.append(
            {"ResourceType": _resource_type(change.event_source), "ResourceName": change.resource}
        )
    return {
        "EventId": event_id,
        "EventName": change.event_name,
        "ReadOnly": "false",
        "EventTime": at,
        "EventSource": change.event_source,
        "Username": user,
        "Resources": resources,
        "CloudTrailEvent": json.dumps(record),
    }


def _identity_type(user: str) -> str:
    if ":assumed-role/" in user:
        return "AssumedRole"
    if user.endswith(":root"):
        return "Root"
    return "IAMUser"


def _resource_type(event_source: str) -> str:
    service = event_source.split(".", 1)[0]
    return {
        "lambda": "AWS::Lambda::Function",
        "iam": "AWS::IAM::Role",
        "bedrock": "AWS::Bedrock::Resource",
        "s3": "AWS::S3::Bucket",
        "dynamodb": "AWS::DynamoDB::Table",
        "ecs": "AWS::ECS::Service",
    }.get(service, f"AWS::{service.capitalize()}::Resource")
