"""Who may send the bot alarms, and what the bot does with one it was sent.

SNS signs a notification with AWS's certificate whichever account owns the topic, so a
valid signature says only that SNS sent it: anyone can subscribe the bot's URL to a
topic of their own. The allow-list says whose alarms are welcome: accounts
(`LLM_INCIDENT_ALLOWED_ACCOUNTS`) and, narrower, SNS topics
(`LLM_INCIDENT_ALLOWED_TOPICS`). A notification that came through SNS is judged by its
topic (the topic's owner chose to send it); an EventBridge event by the account it
came from; an alarm action or a bare alarm message by the alarm's own account.

An empty allow-list lets every sender in (as before it existed); `check-config` warns
about that in HTTP mode, where the bot's URL is public.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from bot.ingest.envelopes import AlarmNotice, Reading
from bot.ingest.regions import arn_account
from bot.models import AlarmState


class AllowList(BaseModel):
    """Accounts and topics the bot takes alarms from; empty means anyone. (The settings
    they come from are checked for shape in `bot.config`.)"""

    accounts: frozenset[str] = Field(default_factory=frozenset)
    topics: frozenset[str] = Field(default_factory=frozenset)

    @property
    def empty(self) -> bool:
        return not self.accounts and not self.topics

    @property
    def allowed_accounts(self) -> frozenset[str]:
        """The accounts list, or, when only topics are listed, the topics' accounts."""
        return self.accounts or frozenset(arn_account(t) for t in self.topics)

    def refusal(self, notice: AlarmNotice) -> str | None:
        """Why this sender is not allowed, or None when it is."""
        if self.empty:
            return None
        if notice.topic_arn:
            if self.topics and notice.topic_arn not in self.topics:
                return (
                    f"not allowed: topic {notice.topic_arn} is not in LLM_INCIDENT_ALLOWED_TOPICS"
                )
            owner = arn_account(notice.topic_arn)
            if owner not in self.allowed_accounts:
                return f"not allowed: topic account {owner or '?'} is not allowed"
            return None
        if notice.sender not in self.allowed_accounts:
            return f"not allowed: account {notice.sender or 'unknown'} is not allowed"
        return None

    def topic_refusal(self, topic_arn: str) -> str | None:
        """Why a topic's subscription is not confirmed, or None when it may be."""
        if self.empty:
            return None
        if self.topics and topic_arn not in self.topics:
            return f"topic {topic_arn[:200]} is not in LLM_INCIDENT_ALLOWED_TOPICS"
        if arn_account(topic_arn) not in self.allowed_accounts:
            return f"topic account {arn_account(topic_arn) or '?'} is not allowed"
        return None


class Decision(BaseModel):
    """What the bot does with one reading: investigate it, or skip it and say why.
    `store` is whether it is still recorded (an OK resolves the open incident)."""

    decision: Literal["investigate", "skip"]
    reason: str = ""
    store: bool = False


def decide(reading: Reading, allow: AllowList) -> Decision:
    """The bot's verdict on a readable item, in the order the checks are made."""
    notice = reading.notice
    if notice is None:
        return Decision(decision="skip", reason=f"not an alarm event: {reading.not_alarm}")
    refused = allow.refusal(notice)
    if refused:
        return Decision(decision="skip", reason=refused)
    if reading.not_alarm:
        return Decision(decision="skip", reason=f"not an alarm event: {reading.not_alarm}")
    alarm = notice.alarm
    if alarm.muted:
        return Decision(decision="skip", reason=f"muted: {alarm.muted_by}")
    if alarm.state is not AlarmState.ALARM:
        then = "resolves its open incident" if alarm.state is AlarmState.OK else "recorded"
        return Decision(
            decision="skip", reason=f"not ALARM: {alarm.state.value} ({then})", store=True
        )
    return Decision(decision="investigate", store=True)
