"""AWS: each read action the tools take, asked once with the bot's credentials.

Only a denial (or refused credentials) fails: any other answer, such as a missing log
group, means IAM let the call through, which is what is being asked. Nothing written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from bot.cli.checks.base import Check, first_line
from bot.config import Settings
from bot.engine.catalog import CatalogError, load_catalog
from bot.models import ServiceEntry
from tools.aws import AwsClients, error_code

POLICY_FILE = "deploy/iam-policy.json"
PROBE_LOG_GROUP = "/llm-incident/permission-probe"  # need not exist: IAM answers first
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "403"}
BAD_CREDENTIALS = {
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
    "InvalidSignatureException",
    "ExpiredToken",
    "ExpiredTokenException",
}


@dataclass(frozen=True)
class ProbeArgs:
    """What the probes ask about: one log group and a one-minute window."""

    log_group: str
    start: datetime
    end: datetime


Probe = Callable[[Any, ProbeArgs], Any]
# Every read action the tools take (the same list as deploy/iam-policy.json's first
# statement), each asked once as cheaply as AWS allows; none of them changes anything.
READ_PROBES: dict[str, tuple[str, Probe]] = {
    "cloudwatch:DescribeAlarms": ("cloudwatch", lambda c, a: c.describe_alarms(MaxRecords=1)),
    "cloudwatch:ListMetrics": (
        "cloudwatch",
        lambda c, a: c.list_metrics(Namespace="AWS/Bedrock", MetricName="Invocations"),
    ),
    "cloudwatch:GetMetricData": (
        "cloudwatch",
        lambda c, a: c.get_metric_data(
            MetricDataQueries=[
                {
                    "Id": "probe",
                    "MetricStat": {
                        "Metric": {"Namespace": "AWS/Bedrock", "MetricName": "Invocations"},
                        "Period": 60,
                        "Stat": "Sum",
                    },
                }
            ],
            StartTime=a.start,
            EndTime=a.end,
        ),
    ),
    "logs:FilterLogEvents": (
        "logs",
        lambda c, a: c.filter_log_events(
            logGroupName=a.log_group,
            startTime=int(a.start.timestamp() * 1000),
            endTime=int(a.end.timestamp() * 1000),
            limit=1,
        ),
    ),
    "logs:StartQuery": (
        "logs",
        lambda c, a: c.start_query(
            logGroupNames=[a.log_group],
            startTime=int(a.start.timestamp()),
            endTime=int(a.end.timestamp()),
            queryString="fields @timestamp | limit 1",
            limit=1,
        ),
    ),
    "logs:GetQueryResults": (
        "logs",
        lambda c, a: c.get_query_results(queryId="00000000-0000-0000-0000-000000000000"),
    ),
    # The tools stop a Logs Insights query they gave up on; an unknown id only asks IAM.
    "logs:StopQuery": (
        "logs",
        lambda c, a: c.stop_query(queryId="00000000-0000-0000-0000-000000000000"),
    ),
    # Where spans live (Transaction Search) and whether the spans log group exists.
    "logs:DescribeLogGroups": (
        "logs",
        lambda c, a: c.describe_log_groups(logGroupNamePrefix="aws/spans", limit=1),
    ),
    "xray:GetTraceSegmentDestination": ("xray", lambda c, a: c.get_trace_segment_destination()),
    "xray:GetTraceSummaries": (
        "xray",
        lambda c, a: c.get_trace_summaries(StartTime=a.start, EndTime=a.end, Sampling=True),
    ),
    "xray:BatchGetTraces": (
        "xray",
        lambda c, a: c.batch_get_traces(TraceIds=["1-00000000-000000000000000000000000"]),
    ),
    "cloudtrail:LookupEvents": ("cloudtrail", lambda c, a: c.lookup_events(MaxResults=1)),
}


def check_aws(settings: Settings, session: boto3.session.Session | None = None) -> list[Check]:
    """Each read action once, with the credentials the bot would use. Only a denial (or
    refused credentials) fails: any other answer, such as a missing log group, means IAM
    let the call through, which is what is being asked."""
    session = session or boto3.session.Session(region_name=settings.aws_region)
    if session.get_credentials() is None:
        return [
            Check(
                "aws credentials",
                False,
                "none found: set AWS_PROFILE or AWS_ACCESS_KEY_ID, or run with a task role",
            )
        ]
    aws = AwsClients(settings.aws_region, settings.aws_endpoint_url, session)
    try:  # a real group of the catalog, where the role may be scoped to log group ARNs
        services = load_catalog(settings.catalog).services
    except CatalogError:
        services = []  # reported by the catalog check
    log_group = next((g for s in services for g in s.all_log_groups()), PROBE_LOG_GROUP)
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    args = ProbeArgs(log_group, end - timedelta(minutes=1), end)
    checks = [
        _probe(action, probe, aws.client(service, probe=True), args)
        for action, (service, probe) in READ_PROBES.items()
    ]
    return checks + [_role(aws, service, args) for service in services if service.role_arn]


def _role(aws: AwsClients, service: ServiceEntry, args: ProbeArgs) -> Check:
    """A service in another account: assume its role (sts:AssumeRole with the bot's
    credentials) and read with it once."""
    there = aws.for_target(role_arn=service.role_arn, external_id=service.external_id)
    name = f"role of {service.name}"
    service_name, probe = READ_PROBES["cloudwatch:DescribeAlarms"]
    try:
        there.assume()
    except (ClientError, BotoCoreError) as exc:  # refused: its trust policy, or our role
        code = error_code(exc)
        return Check(
            name,
            False,
            f"AssumeRole {service.role_arn} refused ({code}): its trust policy must name this "
            f"bot's role (and ExternalId), and this role allow sts:AssumeRole on it "
            f"(docs/operations.md)",
        )
    found = _probe("DescribeAlarms", probe, there.client(service_name, probe=True), args)
    detail = found.detail.replace("allow it in the role", "allow it in that account's role")
    return Check(name, found.ok, f"assumed {service.role_arn}; DescribeAlarms {detail}")


def _probe(action: str, probe: Probe, client: Any, args: ProbeArgs) -> Check:
    try:
        probe(client, args)
    except ClientError as exc:
        code = error_code(exc)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in BAD_CREDENTIALS:
            return Check(action, False, f"credentials refused ({code}): check the AWS keys or role")
        if code in DENIED or status == 403:
            shown = "AccessDenied (HTTP 403)" if code.isdigit() else code
            return Check(action, False, f"denied ({shown}): allow it in the role ({POLICY_FILE})")
        shown = f"HTTP {code}" if code.isdigit() else code
        return Check(action, True, f"allowed (IAM let it through; it answered {shown})")
    except BotoCoreError as exc:
        return Check(action, False, f"could not ask AWS: {first_line(exc)}")
    return Check(action, True, "allowed")
