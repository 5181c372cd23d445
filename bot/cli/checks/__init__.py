"""`llm-incident check-config [--aws]`: is this deployment ready to run?

One line per check, `ok` or `FAIL` with what to fix, so that a first deployment's
mistakes (a token pasted into the wrong variable, a catalog that does not parse, a
database the process cannot reach, a role missing a read permission) show before the
first alarm does, not during it. Nothing here writes to AWS or Slack: the AWS probes
are the read calls the tools make, each asked once with the cheapest arguments (the
default SQLite file is created, as the bot itself would).
"""

from __future__ import annotations

from collections.abc import Callable

from bot.cli.checks.aws import check_aws
from bot.cli.checks.base import Check, secret
from bot.cli.checks.local import check_catalog, check_database, check_llm, check_runbooks
from bot.cli.checks.slack import check_channels, check_slack_api, check_slack_tokens
from bot.cli.checks.sources import check_sources
from bot.config import Settings


def run_checks(settings: Settings, aws: bool = False) -> list[Check]:
    checks = check_slack_tokens(settings)
    if secret(settings.slack_bot_token).startswith("xoxb-"):
        checks.append(check_slack_api(settings))
    checks += [
        check_catalog(settings),
        check_channels(settings),
        check_runbooks(settings),
        check_database(settings),
        check_sources(settings),
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
    warned = sum(c.ok and c.warning for c in checks)
    also = f" ({warned} with a warning)" if warned else ""
    out(f"{len(checks) - failed} ok{also}, {failed} failed")
    return 1 if failed else 0
