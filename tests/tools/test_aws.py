"""Clients for other accounts and regions, against moto: credentials from STS AssumeRole
land in the role's account (moto keys its data by the account of the credentials), are
asked once for every region and client, and asked again when they are about to expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs

import pytest

from bot.sim.emulator import emulator_session
from bot.sim.fakes.http import latency_proxy, serve
from tools.aws import AwsClients

ROLE = "arn:aws:iam::222233334444:role/llm-incident-read"


REFUSED = b"""<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<Error><Type>Sender</Type><Code>AccessDenied</Code><Message>not trusted</Message></Error>
<RequestId>0</RequestId></ErrorResponse>"""
UNTRUSTED = "arn:aws:iam::222233334444:role/untrusted"


@pytest.fixture
def sts_calls(moto_url, aws):
    """A loopback proxy to moto that records the STS actions asked through it, and
    answers AssumeRole of UNTRUSTED as STS answers a role whose trust policy says no."""
    forward = latency_proxy(moto_url, 0.0)
    seen: list[dict[str, str]] = []

    def handle(path, headers, body):
        fields = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
        if fields.get("Action", "").startswith(("AssumeRole", "GetCallerIdentity")):
            seen.append(fields)
        if fields.get("RoleArn") == UNTRUSTED:
            return 403, {"Content-Type": "text/xml"}, REFUSED
        return forward(path, headers, body)

    with serve(handle) as url:
        yield url, seen


def put_metric(aws: AwsClients, name: str) -> None:
    aws.client("cloudwatch").put_metric_data(
        Namespace="Test", MetricData=[{"MetricName": name, "Value": 1.0}]
    )


def names(aws: AwsClients) -> set[str]:
    return {m["MetricName"] for m in aws.client("cloudwatch").list_metrics()["Metrics"]}


def test_a_roles_clients_read_that_account_and_only_it(aws):
    theirs = aws.for_target(role_arn=ROLE, external_id="shared-secret")
    put_metric(theirs, "in-222233334444")
    put_metric(aws, "in-our-account")
    assert names(theirs) == {"in-222233334444"}
    assert names(aws) == {"in-our-account"}
    assert theirs.client("sts").get_caller_identity()["Account"] == "222233334444"
    assert aws.client("sts").get_caller_identity()["Account"] != "222233334444"


def test_regions_and_roles_are_made_once_and_share_one_set_of_credentials(sts_calls):
    url, seen = sts_calls
    aws = AwsClients("us-east-1", url, emulator_session("us-east-1"))
    east = aws.for_target(role_arn=ROLE, external_id="shared-secret")
    west = aws.for_target(region="us-west-2", role_arn=ROLE, external_id="shared-secret")
    assert east is aws.for_target(region="us-east-1", role_arn=ROLE, external_id="shared-secret")
    assert west.for_target(region="us-west-2", role_arn=ROLE, external_id="shared-secret") is west
    assert aws.for_target() is aws and aws.for_target(region="us-west-2").role_arn is None
    for clients in (east, west, east, west):
        names(clients)
    assert [call["Action"] for call in seen] == ["AssumeRole"]
    assert seen[0]["RoleArn"] == ROLE and seen[0]["ExternalId"] == "shared-secret"
    assert seen[0]["RoleSessionName"] == "llm-incident"


def test_credentials_are_asked_again_when_they_are_about_to_expire(sts_calls):
    url, seen = sts_calls
    now = [datetime.now(UTC)]
    aws = AwsClients("us-east-1", url, emulator_session("us-east-1"), clock=lambda: now[0])
    theirs = aws.for_target(role_arn=ROLE)
    names(theirs)
    now[0] += timedelta(minutes=30)  # an hour's credentials, half used: kept
    names(theirs)
    assert len(seen) == 1
    now[0] += timedelta(minutes=25)  # five minutes left: asked again before the call
    names(theirs)
    assert [call["Action"] for call in seen] == ["AssumeRole", "AssumeRole"]
    assert "ExternalId" not in seen[0]


def test_a_refused_role_fails_its_calls_not_the_bot(sts_calls):
    """A role STS will not hand out: the calls made with it fail (an evidence source goes
    missing), the clients with the bot's own credentials go on."""
    from botocore.exceptions import ClientError

    url, _ = sts_calls
    aws = AwsClients("us-east-1", url, emulator_session("us-east-1"))
    theirs = aws.for_target(role_arn=UNTRUSTED, external_id="shared-secret")
    with pytest.raises(ClientError, match="not trusted"):
        names(theirs)
    with pytest.raises(ClientError, match="AccessDenied"):
        theirs.assume()
    assert names(aws) == set()
