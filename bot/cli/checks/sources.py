"""Whose alarms the bot takes: the allow-list, and the senders it has refused."""

from __future__ import annotations

from bot.cli.checks.base import Check
from bot.config import Settings
from bot.store import Store, database_url
from bot.store.schema import require_current


def _refused(settings: Settings) -> str:
    """The senders refused so far, from the database when it is ready (else nothing)."""
    try:
        url = database_url(settings.database_url, settings.data_dir)
        require_current(url)
        senders = Store(url, retry_s=0).sources.refused()
    except Exception:  # the database check says what is wrong with it
        return ""
    if not senders:
        return ""
    shown = ", ".join(f"{s.topic_arn or s.account or '?'} ({s.refused})" for s in senders[:3])
    more = f" and {len(senders) - 3} more" if len(senders) > 3 else ""
    return f"; refused so far: {shown}{more}"


def check_sources(settings: Settings) -> Check:
    """The allow-list as the bot applies it; empty in HTTP mode is a warning: `/aws/sns`
    is public, and SNS signs any account's notifications."""
    accounts, topics = settings.allowed_accounts, settings.allowed_topics
    if not accounts and not topics:
        if settings.slack_app_token is None:
            return Check(
                "alarm sources",
                True,
                "LLM_INCIDENT_ALLOWED_ACCOUNTS is empty: in HTTP mode /aws/sns takes signed "
                "SNS notifications from any AWS account's topic; list your accounts",
                warning=True,
            )
        return Check("alarm sources", True, "no allow-list: alarms of any account are taken")
    shown = ", ".join(accounts) if accounts else "the listed topics' accounts"
    narrowed = f"; topics {', '.join(topics)}" if topics else "; any topic of theirs"
    age = f"; SNS messages older than {settings.sns_max_age_s}s refused"
    return Check("alarm sources", True, f"accounts {shown}{narrowed}{age}{_refused(settings)}")
