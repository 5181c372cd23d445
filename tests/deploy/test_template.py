"""The SAM template lints, and the IAM actions it grants are the AWS calls the code makes.

`llm-incident discover` (tools/discovery) reads more of an account than the bot does at
runtime; its calls are held apart, in the DiscoverEstate statement (granted to the bot's
role only when the template's DiscoverAccess parameter asks), and checked the same way.

The calls are found by reading the source (an AST scan of bot/ and tools/): every
`<client>.<operation>(...)` and `get_paginator("<operation>")` whose name is an
operation of a service the code creates a boto3 client for, mapped to its IAM action.
A new call (say `logs.describe_log_groups`) fails these tests until the template,
deploy/iam-policy.json and `check-config --aws` ask for it too; a dropped one fails
until they stop asking.
"""

from __future__ import annotations

import ast
import json
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from botocore import xform_name
from cfnlint.api import lint, lint_file
from cfnlint.decode import decode

from bot.cli.checks.aws import READ_PROBES

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = ROOT / "deploy" / "template.yaml"
POLICY = ROOT / "deploy" / "iam-policy.json"
READ_ROLE = ROOT / "deploy" / "cross-account-role.yaml"
TRUST = ROOT / "deploy" / "cross-account-trust-policy.json"
SOURCES = ("bot", "tools")
# Modules whose AWS calls never reach an account the bot reads: they are left out of
# the scan, and a test below checks that they only write.
EMULATOR_ONLY = {
    # Writes a scenario's metrics, logs, traces and alarm into the in-process emulator
    # (`demo`, `investigate --offline`) or the endpoint `simulate --endpoint-url` names.
    "bot/sim/seeding.py",
}
IAM_PREFIX = {  # boto3 service name -> IAM action prefix (CloudWatch's endpoint is `monitoring`)
    "bedrock": "bedrock",
    "bedrock-agent": "bedrock",  # knowledge bases and data sources
    "bedrock-agentcore-control": "bedrock-agentcore",
    "cloudtrail": "cloudtrail",
    "cloudwatch": "cloudwatch",
    "iam": "iam",
    "lambda": "lambda",
    "logs": "logs",
    "resourcegroupstaggingapi": "tag",
    "sqs": "sqs",
    "sts": "sts",
    "xray": "xray",
}
DISCOVERY = "tools/discovery/"  # the modules of `llm-incident discover`
DISCOVER_SID = "DiscoverEstate"
# What discover calls that no policy of the account it reads grants, and why.
CALLER_ONLY = {
    "sts:AssumeRole": "discover --role-arn: the caller's own identity assumes the role",
}
# What the Lambda needs beyond the code's own calls, and why.
TEMPLATE_ONLY = {
    "sqs:GetQueueAttributes": "the SQS event source mapping reads the queue's attributes",
    "lambda:InvokeFunction": "Bolt's lazy listeners re-invoke the function asynchronously",
    "logs:CreateLogStream": "the function writes its own log group",
    "logs:PutLogEvents": "the function writes its own log group",
    "bedrock:InvokeModel": "LlmProvider=bedrock: the anthropic SDK calls Bedrock over HTTPS",
}
# StartQuery runs a Logs Insights query: it reads, though its name does not say so; and
# StopQuery only ends such a query, which the tools do when they give up on one.
READ_VERBS = ("Get", "List", "Describe", "Filter", "Lookup", "BatchGet", "StartQuery", "StopQuery")
SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda, ast.Tuple, ast.Module)


@cache
def _operations(service: str) -> dict[str, str]:
    """snake_case method name -> API operation name, from botocore's bundled model."""
    model = botocore.session.get_session().get_service_model(service)
    return {xform_name(op): op for op in model.operation_names}


def _service_names(tree: ast.AST) -> set[str]:
    """The services created with `<x>.client("<service>", ...)`."""
    return {
        node.args[0].value
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "client"
        and node.args
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    }


def _resolve(node: ast.AST, candidates: set[str], parents: dict[ast.AST, ast.AST]) -> str:
    """The service a call is made on: the one named in its nearest enclosing function,
    lambda or tuple (`aws.client("logs")`, `("logs", lambda c: c.start_query())`), else
    the only service with an operation of that name (CloudTrail also has `StartQuery`)."""
    scope: ast.AST | None = node
    while scope is not None:
        if isinstance(scope, SCOPES):
            named = {
                c.value
                for c in ast.walk(scope)
                if isinstance(c, ast.Constant) and isinstance(c.value, str)
            }
            hits = named & candidates
            if len(hits) == 1:
                return hits.pop()
            if len(hits) > 1:
                break
        scope = parents.get(scope)
    if len(candidates) == 1:
        return next(iter(candidates))
    raise AssertionError(f"line {getattr(node, 'lineno', '?')}: which of {candidates}?")


def aws_calls(files: dict[str, str]) -> dict[str, set[str]]:
    """IAM action -> the files that call it, for source texts keyed by path."""
    trees = {path: ast.parse(text) for path, text in files.items()}
    services: set[str] = set().union(*(_service_names(tree) for tree in trees.values()))
    unknown = services - set(IAM_PREFIX)
    assert not unknown, f"add the IAM prefix of {unknown} to IAM_PREFIX"
    found: dict[str, set[str]] = {}
    for path, tree in trees.items():
        parents = {child: node for node in ast.walk(tree) for child in ast.iter_child_nodes(node)}
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            name = node.func.attr
            if name == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                name = str(node.args[0].value)
            candidates = {s for s in services if name in _operations(s)}
            if not candidates:
                continue
            service = _resolve(node, candidates, parents)
            action = f"{IAM_PREFIX[service]}:{_operations(service)[name]}"
            found.setdefault(action, set()).add(path)
    return found


def _sources(*, emulator: bool = False) -> dict[str, str]:
    paths = sorted(p for folder in SOURCES for p in (ROOT / folder).rglob("*.py"))
    rel = {p.relative_to(ROOT).as_posix(): p for p in paths}
    return {k: p.read_text() for k, p in rel.items() if (k in EMULATOR_ONLY) == emulator}


@cache
def _all_calls() -> dict[str, set[str]]:
    return aws_calls(_sources())


@cache
def code_actions() -> frozenset[str]:
    """What the bot calls at runtime (everything but discover's modules)."""
    return frozenset(
        a for a, paths in _all_calls().items() if any(not p.startswith(DISCOVERY) for p in paths)
    )


@cache
def discover_actions() -> frozenset[str]:
    """What `llm-incident discover` calls."""
    return frozenset(
        a for a, paths in _all_calls().items() if any(p.startswith(DISCOVERY) for p in paths)
    )


def _statements(node: Any) -> list[dict[str, Any]]:
    """Policy statements, taking both branches of an `Fn::If` and dropping NoValue."""
    if isinstance(node, list):
        return [s for item in node for s in _statements(item)]
    if isinstance(node, dict) and "Fn::If" in node:
        return [s for branch in node["Fn::If"][1:] for s in _statements(branch)]
    if isinstance(node, dict) and node.get("Ref") == "AWS::NoValue":
        return []
    return [node]


def _actions(statements: list[dict[str, Any]]) -> set[str]:
    found: set[str] = set()
    for statement in statements:
        action = statement["Action"]
        found |= {action} if isinstance(action, str) else set(action)
    return found


def template() -> dict[str, Any]:
    data, matches = decode(str(TEMPLATE))
    assert not matches and data is not None, matches
    return data


def role_statements() -> list[dict[str, Any]]:
    role = template()["Resources"]["BotRole"]["Properties"]
    return [s for p in role["Policies"] for s in _statements(p["PolicyDocument"]["Statement"])]


def policy_statements() -> list[dict[str, Any]]:
    return json.loads(POLICY.read_text())["Statement"]


def test_the_template_passes_cfn_lint():
    matches = lint_file(TEMPLATE)
    assert not matches, "\n".join(str(m) for m in matches)


def test_cfn_lint_does_check_the_sam_resources():
    """The lint above can fail: a misspelt property of the queue is reported."""
    broken = TEMPLATE.read_text().replace("maxReceiveCount: 5", "maxRecieveCount: 5")
    assert any("maxRecieveCount" in str(m) for m in lint(broken))


def test_the_code_makes_these_aws_calls():
    """The list the IAM documents are checked against, spelled out once for the reader."""
    assert code_actions() == {
        "cloudtrail:LookupEvents",
        "cloudwatch:DescribeAlarms",
        "cloudwatch:GetMetricData",
        "cloudwatch:ListMetrics",
        "logs:DescribeLogGroups",
        "logs:FilterLogEvents",
        "logs:GetQueryResults",
        "logs:StartQuery",
        "logs:StopQuery",
        "sqs:DeleteMessage",
        "sqs:ReceiveMessage",
        "sts:AssumeRole",
        "xray:BatchGetTraces",
        "xray:GetTraceSegmentDestination",
        "xray:GetTraceSummaries",
    }


def test_discover_makes_these_aws_calls_and_only_reads():
    assert discover_actions() == {
        "bedrock-agentcore:GetAgentRuntime",
        "bedrock-agentcore:ListAgentRuntimes",
        "bedrock:GetModelInvocationLoggingConfiguration",
        "bedrock:ListDataSources",
        "bedrock:ListGuardrails",
        "bedrock:ListInferenceProfiles",
        "bedrock:ListKnowledgeBases",
        "bedrock:ListProvisionedModelThroughputs",
        "cloudwatch:DescribeAlarms",
        "iam:GetPolicy",
        "iam:GetPolicyVersion",
        "iam:GetRolePolicy",
        "iam:ListAttachedRolePolicies",
        "iam:ListRolePolicies",
        "lambda:ListFunctions",
        "logs:DescribeLogGroups",
        "sts:AssumeRole",
        "tag:GetResources",
        "xray:GetServiceGraph",
    }
    reads = discover_actions() - set(CALLER_ONLY)
    assert all(a.split(":", 1)[1].startswith(READ_VERBS) for a in reads)


def _split(statements: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(the bot's statements, the DiscoverEstate statement)."""
    [discover] = [s for s in statements if s.get("Sid") == DISCOVER_SID]
    return [s for s in statements if s.get("Sid") != DISCOVER_SID], discover


def test_iam_policy_json_grants_exactly_the_calls_the_code_makes():
    bot, discover = _split(policy_statements())
    assert _actions(bot) == code_actions()
    assert _actions([discover]) == discover_actions() - set(CALLER_ONLY)


def test_the_template_role_grants_the_same_plus_what_lambda_itself_needs():
    bot, discover = _split(role_statements())
    granted = _actions(bot)
    assert granted - set(TEMPLATE_ONLY) == code_actions()
    assert set(TEMPLATE_ONLY) <= granted
    # The read statements are the same in both documents, word for word.
    [template_read] = [s for s in role_statements() if s.get("Sid") == "ReadEvidence"]
    [policy_read] = [s for s in policy_statements() if s.get("Sid") == "ReadEvidence"]
    assert template_read == policy_read
    assert discover == _split(policy_statements())[1]


def test_only_reads_are_granted_on_every_resource():
    for statement in [*role_statements(), *policy_statements()]:
        if statement["Resource"] == "*":
            verbs = {a.split(":", 1)[1] for a in _actions([statement])}
            assert all(v.startswith(READ_VERBS) for v in verbs), statement


def _conditional() -> dict[str, dict[str, Any]]:
    statements = template()["Resources"]["BotRole"]["Properties"]["Policies"][0]
    return {
        s["Fn::If"][0]: s["Fn::If"][1]
        for s in statements["PolicyDocument"]["Statement"]
        if isinstance(s, dict) and "Fn::If" in s
    }


def test_bedrock_is_granted_only_when_it_is_the_provider():
    conditional = _conditional()
    assert list(conditional) == ["HasServiceRoles", "UseBedrock", "GrantDiscover"]
    assert _actions(_statements(conditional["UseBedrock"])) == {"bedrock:InvokeModel"}
    # Discover's reads reach the bot's role only when the deployment asks for them.
    assert conditional["GrantDiscover"]["Sid"] == DISCOVER_SID
    assert template()["Parameters"]["DiscoverAccess"]["Default"] == "false"


def test_roles_in_other_accounts_are_assumable_only_when_listed():
    """sts:AssumeRole on exactly the roles the stack is given, never on `*`."""
    grant = _conditional()["HasServiceRoles"]
    assert _actions([grant]) == {"sts:AssumeRole"}
    assert grant["Resource"] == {"Ref": "ServiceRoleArns"}
    [policy] = [s for s in policy_statements() if s.get("Sid") == "AssumeServiceRoles"]
    assert _actions([policy]) == {"sts:AssumeRole"} and policy["Resource"] != "*"


def test_the_read_role_of_another_account_trusts_the_bot_and_only_reads():
    """deploy/cross-account-role.yaml lints, trusts one principal with an external id,
    and grants the ReadEvidence statement of deploy/iam-policy.json, word for word."""
    assert not lint_file(READ_ROLE), [str(m) for m in lint_file(READ_ROLE)]
    data, matches = decode(str(READ_ROLE))
    assert not matches and data is not None
    role = data["Resources"]["ReadRole"]["Properties"]
    [trust] = role["AssumeRolePolicyDocument"]["Statement"]
    [trust_doc] = json.loads(TRUST.read_text())["Statement"]
    for statement in (trust, trust_doc):
        assert statement["Action"] == "sts:AssumeRole"
        assert "sts:ExternalId" in statement["Condition"]["StringEquals"]
    [read] = role["Policies"][0]["PolicyDocument"]["Statement"]
    [policy_read] = [s for s in policy_statements() if s.get("Sid") == "ReadEvidence"]
    assert read == policy_read


def test_check_config_probes_every_read_action():
    """AssumeRole is no tool read: check-config assumes each catalog role instead."""
    reads = {a for a in code_actions() if not a.startswith(("sqs:", "sts:"))}
    assert set(READ_PROBES) == reads


def test_the_emulator_only_modules_only_write():
    """Leaving them out cannot hide a read: every call they make is a write, and no
    policy grants one on the account's resources."""
    writes = set(aws_calls(_sources(emulator=True)))
    assert writes, "the scan found the seeding calls"
    for action in writes:
        assert action.split(":", 1)[1].startswith(("Put", "Create", "Set")), action
    assert not writes & _actions(policy_statements())
    # The template's only writes are the function's own logs, to its own log group.
    for statement in role_statements():
        if writes & _actions([statement]):
            assert statement["Resource"] == {"Fn::GetAtt": ["BotLogGroup", "Arn"]}, statement


def test_the_scan_sees_a_new_call_and_tells_services_apart():
    source = """
def groups(aws):
    return aws.client("logs").describe_log_groups(limit=1)

def lake(aws):
    client = aws.client("cloudtrail")
    return client.start_query(QueryStatement="x")

PAGES = lambda aws: aws.client("cloudwatch").get_paginator("describe_alarms")
"""
    found = aws_calls({"x.py": source, "y.py": 'aws.client("logs").start_query()'})
    assert set(found) == {
        "logs:DescribeLogGroups",
        "cloudtrail:StartQuery",
        "cloudwatch:DescribeAlarms",
        "logs:StartQuery",
    }


@pytest.mark.parametrize(
    ("resource", "check"),
    [
        ("AlarmSubscription", lambda p: p["RawMessageDelivery"] is False),
        ("AlarmQueue", lambda p: p["RedrivePolicy"]["maxReceiveCount"] >= 1),
        ("BotLogGroup", lambda p: p["RetentionInDays"] == {"Ref": "LogRetentionDays"}),
        (
            "AlarmQueuePolicy",
            lambda p: (
                p["PolicyDocument"]["Statement"][0]["Condition"]["ArnEquals"]
                == {"aws:SourceArn": {"Ref": "AlarmTopic"}}
            ),
        ),
    ],
)
def test_the_alarm_path(resource, check):
    assert check(template()["Resources"][resource]["Properties"])


def test_the_function_takes_slack_and_the_queue():
    function = template()["Resources"]["BotFunction"]
    events = function["Properties"]["Events"]
    assert events["SlackEvents"]["Properties"] == {"Path": "/slack/events", "Method": "post"}
    assert events["Alarms"]["Properties"]["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert function["Metadata"]["DockerBuildTarget"] == "lambda"
    queue = template()["Resources"]["AlarmQueue"]["Properties"]
    assert queue["VisibilityTimeout"] >= 6 * function["Properties"]["Timeout"]
