"""The incident report as a reviewer reads it: the verdict the team gave (or
"unconfirmed"), people's words quoted safely, follow-ups, and what could not be read."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from bot.incidents.report import incident_record, render_report, thread_messages
from bot.models import Alarm, Category, Hypothesis, Investigation
from bot.store import Store

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EXAMPLE = Path(__file__).parents[2] / "docs" / "example-incident-report.md"
SECTIONS = (
    "## Summary",
    "## Impact window",
    "## Timeline",
    "## Root cause",
    "## Evidence",
    "## What the bot got right or wrong",
    "## Follow-ups",
)


def incident(store: Store) -> tuple[int, int]:
    alarm = Alarm(
        name="kb-answers-errors",
        namespace="AWS/Lambda",
        metric="Errors",
        statistic="Sum",
        threshold=3,
        changed_at=T0,
        reason="Threshold Crossed",
    )
    delivery = store.incidents.request_analysis(alarm, "kb-answers", timedelta(minutes=30), None)
    assert delivery.incident is not None
    found = Investigation(
        service="kb-answers",
        alarm=alarm.name,
        hypotheses=[
            Hypothesis(
                category=Category.MODEL_THROTTLING,
                confidence=0.55,
                title="Model throttling: InvocationThrottles up",
                evidence=["InvocationThrottles 0 -> 40/min"],
                remediation=["Stop the retry storm"],
            ),
            Hypothesis(category=Category.RETRIEVAL_FAILURE, confidence=0.3, title="Retrieval"),
        ],
        evidence_tokens=100,
        onset=T0 - timedelta(minutes=9),
        missing=["traces: AccessDeniedException"],
    )
    analysis = store.analyses.add(delivery.incident.id, found, "evidence", 1.0)
    store.incidents.update(delivery.incident.id, channel="C1", root_ts="1763640000.000100")
    return delivery.incident.id, analysis.id


def test_a_corrected_analysis_is_reported_as_wrong_with_the_real_cause(db_url):
    store = Store(db_url)
    incident_id, analysis_id = incident(store)
    store.feedback.vote(
        analysis_id, "U1", -1, wrong="the KB index was empty", real_category="retrieval_failure"
    )
    messages, bad = thread_messages(
        [
            {"ts": "1763640000.000100", "user": "UBOT", "bot_id": "B1", "text": "🚨 ALARM"},
            {"ts": "1763640300.000200", "user": "U2", "text": "sync job | failed\nat 11:50"},
            {"ts": "1763640400.000300", "user": "U2", "text": "Action item: alert on sync job"},
            {"ts": "not a ts", "user": "U3"},
        ]
    )
    assert bad == 1
    record = incident_record(store, incident_id)
    text = render_report(record, messages, now=T0 + timedelta(hours=1), bot_user="UBOT")
    for section in SECTIONS:
        assert section in text
    assert "Root cause: **Retrieval failure** (corrected by the team)" in text
    assert "Corrected by the team (👎): **Retrieval failure**, not Model throttling." in text
    assert "> the KB index was empty" in text
    assert "**wrong: the real cause was Retrieval failure**" in text
    assert "| <@U2> | sync job \\| failed at 11:50 |" in text  # one line, pipes escaped
    assert "- [ ] alert on sync job (<@U2>)" in text
    assert "- [ ] Stop the retry storm" not in text, "the wrong analysis' steps are not follow-ups"
    assert "- [ ] Restore the missing evidence source: traces: AccessDeniedException" in text
    assert "| llm-incident | 🚨 ALARM |" in text
    assert "still open" in text


def test_without_votes_or_thread_the_cause_is_unconfirmed_and_the_report_says_why(db_url):
    store = Store(db_url)
    incident_id, _ = incident(store)
    record = incident_record(store, incident_id)
    text = render_report(record, None, now=T0, notes=["no Slack token"])
    assert "Root cause: **unconfirmed**; the bot's reading: Model throttling (55%)" in text
    assert "_The thread's messages were not read: no Slack token._" in text
    assert "- [ ] Stop the retry storm" in text
    assert "- [ ] Confirm the root cause" in text
    assert "- [ ] Record what fixed it" in text
    assert "| 11:51:00 | T0-9m | evidence | onset" in text


@given(st.lists(st.dictionaries(st.text(max_size=8), st.text(max_size=20) | st.integers())))
def test_any_replies_payload_is_read_without_raising(raw):
    found, bad = thread_messages(raw)
    assert len(found) + bad == len(raw)


def test_the_example_report_in_the_docs_has_every_section():
    text = EXAMPLE.read_text(encoding="utf-8")
    for section in SECTIONS:
        assert section in text
    assert "(confirmed by the team)" in text and "What fixed it: " in text
