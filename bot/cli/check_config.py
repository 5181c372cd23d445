"""`llm-incident check-config [--aws]`: is this deployment ready to run?

One line per check, `ok` or `FAIL` with what to fix, so that a first deployment's
mistakes (a token pasted into the wrong variable, a catalog that does not parse, a
database the process cannot reach, a role missing a read permission) show before the
first alarm does, not during it. Nothing here writes to AWS or Slack: the AWS probes
are the read calls the tools make, each asked once with the cheapest arguments (the
default SQLite file is created, as the bot itself would).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError
from sqlalchemy import create_engine

from bot.agent.pricing import price_for
from bot.config import Settings
from bot.engine.catalog import CatalogError, load_catalog
from bot.engine.runbooks import RunbookError, load_runbooks
from bot.store import database_url, redacted_url, schema
from tools.aws import AwsClients, error_code

# The bot scopes the code needs; deploy/slack-app-manifest.yaml asks for exactly these
# (tests/deploy/test_manifest.py derives them from the code and compares all three).
SLACK_SCOPES = frozenset(
    {
        "app_mentions:read",
        "chat:write",
        "chat:write.public",
        "commands",
        "files:write",
        "reactions:read",
        "usergroups:read",
    }
)
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
class Check:
    """One check's verdict; `detail` says what was found, or on a failure what to fix."""

    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok' if self.ok else 'FAIL':4}  {self.name}: {self.detail}"


def _secret(value: Any) -> str:
    return value.get_secret_value() if value is not None else ""


def check_slack_tokens(settings: Settings) -> list[Check]:
    """The tokens' shapes: a bot token in the app-token variable (or the reverse) is the
    commonest first-deployment mistake, and Slack's own error for it is unhelpful."""
    bot, app = _secret(settings.slack_bot_token), _secret(settings.slack_app_token)
    signing = _secret(settings.slack_signing_secret)
    checks = []
    if not bot:
        checks.append(
            Check(
                "SLACK_BOT_TOKEN",
                False,
                "not set: copy the Bot User OAuth Token (xoxb-…) from the app's "
                "OAuth & Permissions page",
            )
        )
    elif not bot.startswith("xoxb-"):
        checks.append(
            Check(
                "SLACK_BOT_TOKEN", False, f"starts with {bot[:5]!r}, not 'xoxb-': use the bot token"
            )
        )
    else:
        checks.append(Check("SLACK_BOT_TOKEN", True, "set (xoxb-…)"))
    if app and not app.startswith("xapp-"):
        checks.append(
            Check(
                "SLACK_APP_TOKEN",
                False,
                f"starts with {app[:5]!r}, not 'xapp-': use an app-level token with "
                "connections:write (Basic Information → App-Level Tokens)",
            )
        )
    elif app:
        checks.append(Check("SLACK_APP_TOKEN", True, "set (xapp-…): `serve` uses Socket Mode"))
    if signing:
        checks.append(Check("SLACK_SIGNING_SECRET", True, "set: HTTP mode and Lambda can verify"))
    elif app:
        checks.append(
            Check("SLACK_SIGNING_SECRET", True, "not set: fine for Socket Mode, needed for HTTP")
        )
    else:
        checks.append(
            Check(
                "SLACK_SIGNING_SECRET",
                False,
                "not set, nor SLACK_APP_TOKEN: set SLACK_SIGNING_SECRET (Basic Information → "
                "Signing Secret) for HTTP mode or Lambda, or SLACK_APP_TOKEN for Socket Mode",
            )
        )
    return checks


def check_slack_api(settings: Settings) -> Check:
    """`auth.test` against SLACK_API_URL: the token is live, and (where Slack reports them
    in `x-oauth-scopes`) the app was installed with every scope the code needs."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(
        token=_secret(settings.slack_bot_token), base_url=settings.slack_api_url, timeout=10
    )
    quiet = logging.getLogger("slack_sdk.web.base_client")  # the failure is our line, not a log
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)
    try:
        answer = client.auth_test()
    except SlackApiError as exc:
        error = exc.response.get("error", "error")
        return Check("slack auth.test", False, f"{error}: the bot token is wrong or revoked")
    except Exception as exc:
        return Check(
            "slack auth.test", False, f"cannot reach {settings.slack_api_url}: {_first(exc)}"
        )
    finally:
        quiet.setLevel(level)
    found = f"{answer.get('user', answer.get('user_id', '?'))} in team {answer.get('team_id')}"
    header = next((v for k, v in answer.headers.items() if k.lower() == "x-oauth-scopes"), None)
    if header is None:
        return Check("slack auth.test", True, f"{found} (scopes not reported)")
    granted = {s.strip() for s in str(header).split(",") if s.strip()}
    missing = sorted(SLACK_SCOPES - granted)
    if missing:
        return Check(
            "slack auth.test",
            False,
            f"{found}, but missing scopes {', '.join(missing)}: update the app from "
            "deploy/slack-app-manifest.yaml and reinstall it",
        )
    return Check("slack auth.test", True, f"{found}, all {len(SLACK_SCOPES)} scopes granted")


def check_catalog(settings: Settings) -> Check:
    if settings.catalog is None:
        return Check(
            "catalog",
            True,
            "LLM_INCIDENT_CATALOG not set: alarms are investigated from their own metric",
        )
    try:
        catalog = load_catalog(settings.catalog)
    except CatalogError as exc:
        return Check("catalog", False, f"{exc} (see the README's catalog format)")
    return Check("catalog", True, f"{len(catalog.services)} services from {settings.catalog}")


def check_channels(settings: Settings) -> Check:
    """Every alarm needs a channel: its service's `slack_channel`, else the default one."""
    if settings.default_channel:
        return Check("channels", True, f"default {settings.default_channel}")
    try:
        services = load_catalog(settings.catalog).services
    except CatalogError:
        return Check("channels", False, "the catalog does not load (above)")
    lacking = [s.name for s in services if not s.slack_channel]
    if not services:
        return Check(
            "channels",
            False,
            "no catalog service and no LLM_INCIDENT_DEFAULT_CHANNEL: alarms would have no "
            "channel to go to; set LLM_INCIDENT_DEFAULT_CHANNEL",
        )
    if lacking:
        return Check(
            "channels",
            False,
            f"services {', '.join(lacking[:5])} have no slack_channel and "
            "LLM_INCIDENT_DEFAULT_CHANNEL is not set: their alarms could not be posted",
        )
    return Check(
        "channels",
        True,
        "every catalog service names its slack_channel (alarms no service claims need "
        "LLM_INCIDENT_DEFAULT_CHANNEL)",
    )


def check_runbooks(settings: Settings) -> Check:
    try:
        books = load_runbooks(settings.runbooks_dir)
    except RunbookError as exc:
        return Check("runbooks", False, f"{exc} (LLM_INCIDENT_RUNBOOKS names the folder)")
    if not books:
        return Check(
            "runbooks", False, f"no *.md runbook in {settings.runbooks_dir}: remediation is empty"
        )
    return Check("runbooks", True, f"{len(books)} runbooks from {settings.runbooks_dir}")


def check_database(settings: Settings) -> Check:
    """Whether the database in DATABASE_URL (else the SQLite file) accepts a connection
    and is at the schema revision this version needs."""
    try:
        url = database_url(settings.database_url, settings.data_dir)
    except OSError as exc:
        return Check("database", False, f"cannot create {settings.data_dir}: {_first(exc)}")
    shown = redacted_url(url)
    postgres = url.startswith("postgresql")
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 5} if postgres else {})
    except ModuleNotFoundError as exc:
        return Check(
            "database",
            False,
            f"{shown}: driver missing ({exc.name}): install llm-incident[postgres]",
        )
    except Exception as exc:
        return Check("database", False, f"DATABASE_URL is not a database URL: {_first(exc)}")
    try:
        with engine.connect():
            pass
    except Exception as exc:
        return Check("database", False, f"{shown} unreachable: {_first(exc)}; check DATABASE_URL")
    finally:
        engine.dispose()
    try:
        found, wanted = schema.current(url), schema.head()
    except schema.SchemaError as exc:
        return Check("database", False, str(exc))
    if found != wanted:
        at = f"at revision {found}" if found else "empty"
        return Check("database", False, f"{shown} is {at}: run `llm-incident db upgrade`")
    return Check("database", True, f"{shown} reachable, schema at {wanted}")


def check_llm(settings: Settings) -> Check:
    provider, model = settings.llm_provider, settings.llm_model or ""
    if provider in (None, "none"):
        return Check(
            "llm",
            True,
            "none: the triage is the analysis (set ANTHROPIC_API_KEY, or LLM_PROVIDER=bedrock)",
        )
    if provider == "anthropic" and settings.anthropic_api_key is None:
        return Check("llm", False, "LLM_PROVIDER=anthropic but ANTHROPIC_API_KEY is not set")
    for name, value in (("LLM_MODEL", model), ("LLM_FALLBACK_MODEL", settings.llm_fallback_model)):
        if value and not price_for(value).known:
            return Check(
                "llm",
                False,
                f"{name}={value} has no price in bot/pricing.py: LLM_MAX_COST_USD would be "
                "enforced at a guessed price; use a listed model id or add its price",
            )
    where = f" in {settings.aws_region} (bedrock:InvokeModel is not probed)"
    return Check("llm", True, f"{provider}, model {model}{where if provider == 'bedrock' else ''}")


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
    return [
        _probe(action, probe, aws.client(service, probe=True), args)
        for action, (service, probe) in READ_PROBES.items()
    ]


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
        return Check(action, False, f"could not ask AWS: {_first(exc)}")
    return Check(action, True, "allowed")


def run_checks(settings: Settings, aws: bool = False) -> list[Check]:
    checks = check_slack_tokens(settings)
    if _secret(settings.slack_bot_token).startswith("xoxb-"):
        checks.append(check_slack_api(settings))
    checks += [
        check_catalog(settings),
        check_channels(settings),
        check_runbooks(settings),
        check_database(settings),
        check_llm(settings),
    ]
    if aws:
        checks += check_aws(settings)
    return checks


def run(settings: Settings, aws: bool = False, out: Callable[[str], None] = print) -> int:
    """Print one line per check; 0 when every check passed, 1 otherwise."""
    checks = run_checks(settings, aws)
    for check in checks:
        out(check.line())
    failed = sum(not c.ok for c in checks)
    out(f"{len(checks) - failed} ok, {failed} failed")
    return 1 if failed else 0


def _first(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:200]
