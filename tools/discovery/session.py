"""The credentials `discover` reads an account with: a profile, and optionally a role.

`--profile` picks a named profile of the AWS config; `--role-arn` assumes a role (of this
or another account) with those credentials first, so one can read an account the bot's
own credentials cannot. Endpoint URLs come from the environment as everywhere else.
"""

from __future__ import annotations

import boto3

from tools.aws import AwsClients

SESSION_NAME = "llm-incident-discover"


def discovery_clients(
    region: str,
    profile: str | None = None,
    role_arn: str | None = None,
    endpoint_url: str | None = None,
    session: boto3.session.Session | None = None,
) -> AwsClients:
    """Clients for the account to discover (the role's, when one is given)."""
    base = session or boto3.session.Session(profile_name=profile, region_name=region)
    if role_arn:
        kwargs = {"endpoint_url": endpoint_url} if endpoint_url else {}
        sts = base.client("sts", region_name=region, **kwargs)
        credentials = sts.assume_role(RoleArn=role_arn, RoleSessionName=SESSION_NAME)["Credentials"]
        base = boto3.session.Session(
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
            region_name=region,
        )
    return AwsClients(region, endpoint_url, base)
