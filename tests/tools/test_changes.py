import json
from datetime import timedelta

from bot.sim.emulator import emulator_session
from bot.sim.expand import LogEvent
from bot.sim.fakes.cloudtrail import fake_cloudtrail
from bot.sim.fakes.http import serve
from bot.sim.seeding import put_events
from tests.conftest import T0
from tools.aws import AwsClients
from tools.changes import ChangesTool, flatten

ONSET = T0 - timedelta(minutes=12)


def record(
    minutes: float, name: str, request: dict, user: str = "arn:aws:sts::1:assumed-role/deploy/ci"
):
    at = T0 + timedelta(minutes=minutes)
    return {
        "eventTime": at.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "eventSource": "lambda.amazonaws.com",
        "eventName": name,
        "userIdentity": {"arn": user},
        "requestParameters": request,
        "readOnly": False,
    }


def lookup_event(rec: dict, resource: str) -> dict:
    return {
        "EventId": rec["eventName"],
        "EventName": rec["eventName"],
        "EventTime": rec["eventTime"],
        "EventSource": rec["eventSource"],
        "Username": "ci",
        "Resources": [{"ResourceType": "AWS::Lambda::Function", "ResourceName": resource}],
        "CloudTrailEvent": json.dumps(rec),
    }


def params(**extra):
    return {
        "start": T0 - timedelta(hours=24),
        "end": T0 + timedelta(minutes=5),
        "onset": ONSET,
        "t0": T0,
        **extra,
    }


def test_lookup_events_pages_and_places_each_change():
    events = [
        lookup_event(
            record(
                -14,
                "UpdateFunctionConfiguration20150331v2",
                {
                    "functionName": "quote-api",
                    "environment": {"variables": {"PROMPT_VERSION": "v18"}},
                },
            ),
            "quote-api",
        ),
        lookup_event(
            record(-26 * 60, "UpdateFunctionCode20150331v2", {"functionName": "billing"}), "billing"
        ),
        lookup_event(
            record(-30, "PutRolePolicy", {"roleName": "quote-api-role"}), "quote-api-role"
        ),
    ]
    calls: list[dict] = []
    with serve(fake_cloudtrail(events, calls)) as url:
        aws = AwsClients("us-east-1", url, emulator_session("us-east-1"))
        result = ChangesTool(aws)(params(related_names=["quote-api"]))
    assert len(calls) == 2  # two pages
    assert calls[0]["LookupAttributes"] == [{"AttributeKey": "ReadOnly", "AttributeValue": "false"}]
    changes = {c.name: c for c in result.data["changes"]}
    config = changes["UpdateFunctionConfiguration20150331v2"]
    assert config.related and config.minutes_before(ONSET) == 2
    assert config.request["environment.variables.PROMPT_VERSION"] == "v18"
    assert not changes["UpdateFunctionCode20150331v2"].related
    assert changes["PutRolePolicy"].related  # the role is named after the function
    first = result.text.splitlines()[0]
    assert (
        first.startswith("- UpdateFunctionConfiguration20150331v2")
        and "2 min before onset" in first
    )
    assert "PROMPT_VERSION=v18" in first
    assert "[other resource]" in result.text


def test_falls_back_to_the_trail_log_group_where_lookup_events_is_missing(aws):
    rec = record(-3, "UpdateFunctionCode20150331v2", {"functionName": "quote-api"})
    put_events(
        aws,
        "trail-logs",
        "s",
        [LogEvent(int((T0 - timedelta(minutes=3)).timestamp() * 1000), json.dumps(rec))],
    )
    result = ChangesTool(aws)(params(related_names=["quote-api"], fallback_log_group="trail-logs"))
    assert result.data["path"] == "log_group"
    assert "LookupEvents unavailable" in result.notes[0]
    [change] = result.data["changes"]
    assert change.related and change.minutes_before(ONSET) == -9


def test_flatten_names_nested_parameters():
    assert flatten({"a": {"b": 1, "c": [{"d": "x"}]}, "e": [1, 2]}) == {
        "a.b": "1",
        "a.c[0].d": "x",
        "e": "[1, 2]",
    }
