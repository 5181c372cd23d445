"""`llm-incident discover`: propose a service catalog from what an AWS account has.

Read-only (`tools.discovery`); progress and every API it had to skip go to stderr, the
catalog to `--out` or stdout, the drift against `--diff CATALOG` to stdout.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from bot.config import Settings
from bot.engine.catalog import load_catalog


def add_discover(commands: Any) -> None:
    discover = commands.add_parser(
        "discover", help="propose a service catalog from what the AWS account has (read-only)"
    )
    discover.add_argument("--region", help="AWS region to read (default AWS_REGION)")
    discover.add_argument("--profile", help="a named profile of the AWS config")
    discover.add_argument("--role-arn", help="assume this role to read the account")
    discover.add_argument("--out", type=Path, help="write the catalog here (default: stdout)")
    discover.add_argument(
        "--diff", type=Path, metavar="CATALOG", help="show what differs from this catalog"
    )
    discover.add_argument(
        "--tag-key", default="service", help="the tag that names a resource's service (service)"
    )


def run_discover(args: argparse.Namespace, settings: Settings) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from bot.engine.discovery import account_of, catalog_diff, propose
    from tools.discovery import read_inventory
    from tools.discovery.session import discovery_clients

    def progress(line: str) -> None:
        print(f"discover: {line}", file=sys.stderr, flush=True)

    current = load_catalog(args.diff) if args.diff else None  # a bad file fails first
    region = args.region or settings.aws_region
    try:
        aws = discovery_clients(region, args.profile, args.role_arn, settings.aws_endpoint_url)
    except (BotoCoreError, ClientError) as exc:
        print(f"llm-incident: discover cannot start: {exc}", file=sys.stderr)
        return 1
    inventory = read_inventory(aws, progress)
    proposal = propose(inventory, args.tag_key, account=account_of(inventory))
    found = proposal.found
    progress(
        f"{len(found.services)} services, {len(found.unattributed)} unattributed groups, "
        f"{found.alarm_count} alarms ({len(found.alarm_checks)} not resolving to their own "
        f"service), {len(proposal.notes)} APIs skipped"
    )
    if args.out:
        args.out.write_text(proposal.yaml, encoding="utf-8")
        progress(f"catalog written to {args.out}")
    if current is not None:
        drift = catalog_diff(current, proposal.catalog, str(args.diff))
        print("\n".join(drift) if drift else f"no drift: {args.diff} matches the account")
    elif not args.out:
        print(proposal.yaml, end="")
    return 0
