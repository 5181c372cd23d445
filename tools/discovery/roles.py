"""IAM roles: which Bedrock models, guardrails, knowledge bases and tables a role may use.

A function's role says what the function may call even when its environment names
nothing (the model id is in code, the guardrail in a parameter store). Attached managed
policies (their default version) and inline policies are both read; a grant on `*` names
no resource and is reported as a wildcard instead.
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from tools.aws import AwsClients
from tools.discovery.base import Notes, Progress, attempt
from tools.discovery.references import Reference, from_policy


class RoleAccess(BaseModel):
    role_arn: str
    references: list[Reference] = Field(default_factory=list)
    wildcards: list[str] = Field(default_factory=list)


def role_name(arn: str) -> str:
    """`arn:aws:iam::123:role/service-role/chat` -> `chat` (roles may have a path)."""
    return arn.rsplit("/", 1)[-1]


def read_role_access(
    aws: AwsClients, role_arns: list[str], notes: Notes, progress: Progress
) -> dict[str, RoleAccess]:
    """What each role's policies allow on Bedrock and DynamoDB resources."""
    client = aws.client("iam")
    documents: dict[str, object] = {}  # managed policy ARN -> its default version's document

    def managed(policy_arn: str) -> object:
        if policy_arn not in documents:
            policy = client.get_policy(PolicyArn=policy_arn)["Policy"]
            version = client.get_policy_version(
                PolicyArn=policy_arn, VersionId=policy["DefaultVersionId"]
            )
            documents[policy_arn] = version["PolicyVersion"].get("Document")
        return documents[policy_arn]

    def read_one(arn: str) -> RoleAccess:
        name = role_name(arn)
        access = RoleAccess(role_arn=arn)
        pages = client.get_paginator("list_attached_role_policies").paginate(RoleName=name)
        attached = [p["PolicyArn"] for page in pages for p in page.get("AttachedPolicies", [])]
        named: list[tuple[str, object]] = [
            (f"policy {a.rsplit('/', 1)[-1]} of role {name}", managed(a)) for a in attached
        ]
        for page in client.get_paginator("list_role_policies").paginate(RoleName=name):
            for policy in page.get("PolicyNames", []):
                document = client.get_role_policy(RoleName=name, PolicyName=policy)
                named.append(
                    (f"inline policy {policy} of role {name}", document.get("PolicyDocument"))
                )
        for origin, document in named:
            refs, wildcards = from_policy(document, origin)
            access.references += refs
            access.wildcards += wildcards
        return access

    found: dict[str, RoleAccess] = {}
    for arn in sorted(set(role_arns)):
        access = attempt(
            notes,
            f"iam:ListAttachedRolePolicies ({role_name(arn)})",
            lambda arn=arn: read_one(arn),
            None,
            progress,
        )
        if access is not None:
            found[arn] = access
    progress(f"IAM roles read: {len(found)} of {len(set(role_arns))}")
    return found
