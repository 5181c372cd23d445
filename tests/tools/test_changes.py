import json
import time
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
            record(-20 * 60, "UpdateFunctionCode20150331v2", {"functionName": "billing"}), "billing"
        ),
        lookup_event(
            record(-30, "PutRolePolicy", {"roleName": "quote-api-role"}), "quote-api-role"
        ),
    ]
    events[2]["EventSource"] = "iam.amazonaws.com"
    calls: list[dict] = []
    with serve(fake_cloudtrail(events, calls, page_size=1)) as url:
        aws = AwsClients("us-east-1", url, emulator_session("us-east-1"))
        result = ChangesTool(aws)(params(related_names=["quote-api"]))
    asked = [call["LookupAttributes"][0] for call in calls if not call.get("throttled")]
    # The resource by name first, then the event sources, each page by page.
    assert asked[0] == {"AttributeKey": "ResourceName", "AttributeValue": "quote-api"}
    assert {a["AttributeValue"] for a in asked if a["AttributeKey"] == "EventSource"} == {
        "bedrock.amazonaws.com",
        "lambda.amazonaws.com",
        "iam.amazonaws.com",
    }
    assert sum(1 for a in asked if a["AttributeValue"] == "lambda.amazonaws.com") == 2  # 2 pages
    changes = {c.name: c for c in result.data["changes"]}
    assert len(result.data["changes"]) == 3  # found by name and by source, listed once
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
    [read] = result.data["sampling"]
    assert "ResourceName (quote-api)" in read and "EventSource (bedrock, lambda, iam)" in read


def test_a_busy_account_is_read_newest_first_with_the_cut_stated():
    """1,000 routine writes by other teams and one related change: the related change is
    found by its resource name, the event-source lookups stop at their newest events and
    say so, and the calls keep to two a second (the fake throttles faster callers)."""
    routine = [
        {
            **lookup_event(
                record(-5 - i, "UpdateFunctionCode20150331v2", {"functionName": f"app-{i}"}),
                f"app-{i}",
            ),
            "EventId": f"routine-{i}",
        }
        for i in range(1000)
    ]
    causal = lookup_event(
        record(-700, "UpdateAlias20150331", {"functionName": "quote-api", "name": "live"}),
        "quote-api",
    )
    calls: list[dict] = []
    with serve(fake_cloudtrail([*routine, causal], calls)) as url:
        aws = AwsClients("us-east-1", url, emulator_session("us-east-1"))
        began = time.monotonic()
        result = ChangesTool(aws)(params(related_names=["quote-api"]))
        seconds = time.monotonic() - began
    names = [c.name for c in result.data["changes"] if c.related]
    assert names == ["UpdateAlias20150331"]
    [read] = result.data["sampling"]
    assert "cut at the newest 100, older not read: lambda.amazonaws.com (to T0-" in read
    assert not any(call.get("throttled") for call in calls)
    assert seconds >= (len(calls) - 2) / 2 - 0.3  # two a second after a burst of two


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
