"""Slack: the tokens' shapes, the live token and its scopes, a channel for every alarm."""

from __future__ import annotations

import logging

from bot.cli.checks.base import Check, first_line, secret
from bot.config import Settings
from bot.engine.catalog import CatalogError, load_catalog

# The bot scopes the code needs; deploy/slack-app-manifest.yaml asks for exactly these
# (tests/deploy/test_manifest.py derives them from the code and compares all three).
SLACK_SCOPES = frozenset(
    {
        "app_mentions:read",
        "channels:history",
        "chat:write",
        "chat:write.public",
        "commands",
        "files:write",
        "groups:history",
        "reactions:read",
        "usergroups:read",
    }
)


def check_slack_tokens(settings: Settings) -> list[Check]:
    """The tokens' shapes: a bot token in the app-token variable (or the reverse) is the
    commonest first-deployment mistake, and Slack's own error for it is unhelpful."""
    bot, app = secret(settings.slack_bot_token), secret(settings.slack_app_token)
    signing = secret(settings.slack_signing_secret)
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
        token=secret(settings.slack_bot_token), base_url=settings.slack_api_url, timeout=10
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
            "slack auth.test", False, f"cannot reach {settings.slack_api_url}: {first_line(exc)}"
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
