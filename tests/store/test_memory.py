"""The memory repository: fingerprints, what fixed an incident, and the outcome of each
past incident as its votes tell it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

from bot.models import Alarm, Category, Fingerprint, Hypothesis, Investigation
from bot.store import Store
from bot.store.tables import AnalysisFingerprint, Base, ResolutionNote

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def analysed(store: Store, service: str, category: Category, minutes: int = 0) -> tuple[int, int]:
    alarm = Alarm(name=f"{service}-errors", changed_at=T0 + timedelta(minutes=minutes))
    incident = store.incidents.request_analysis(alarm, service, timedelta(seconds=1), None).incident
    assert incident is not None
    store.incidents.update(incident.id, status="resolved")  # the next one opens its own
    found = Investigation(
        service=service,
        alarm=alarm.name,
        hypotheses=[Hypothesis(category=category, confidence=0.6, title="t")],
        evidence_tokens=1,
    )
    analysis = store.analyses.add(incident.id, found, "evidence", 1.0)
    fingerprint = Fingerprint(service=service, alarm=alarm.name, category=category)
    store.memory.remember(
        analysis.id, incident.id, service, fingerprint, [{"at": "x", "name": "n"}]
    )
    return incident.id, analysis.id


def test_the_outcome_of_each_past_incident_is_read_from_its_votes(db_url):
    store = Store(db_url)
    up = analysed(store, "svc", Category.MODEL_THROTTLING)
    corrected = analysed(store, "svc", Category.DEPENDENCY_FAILURE, 40)
    rejected = analysed(store, "svc", Category.BAD_DEPLOYMENT, 80)
    unrated = analysed(store, "svc", Category.COMPUTE_SATURATION, 120)
    other = analysed(store, "other", Category.MODEL_THROTTLING, 160)
    store.feedback.vote(up[1], "U1", 1)
    store.feedback.vote(corrected[1], "U1", -1, real_category="retrieval_failure", wrong="KB empty")
    store.feedback.vote(corrected[1], "U2", 1)  # one 👍 does not outweigh a named cause
    store.feedback.vote(rejected[1], "U1", -1)
    store.memory.add_resolution(up[0], "U1", "raised the quota")
    store.memory.add_resolution(up[0], "U2", "raised the quota to 400k TPM")
    found = {p.incident_id: p for p in store.memory.past("svc", exclude_incident=unrated[0])}
    assert set(found) == {up[0], corrected[0], rejected[0]}  # not excluded, not other services
    assert (found[up[0]].verdict, found[up[0]].confirmed) == (
        "confirmed",
        Category.MODEL_THROTTLING,
    )
    assert found[up[0]].resolution == "raised the quota to 400k TPM"  # the latest note
    assert found[corrected[0]].verdict == "corrected"
    assert found[corrected[0]].confirmed == Category.RETRIEVAL_FAILURE
    assert found[corrected[0]].notes == ["KB empty"]
    assert (found[rejected[0]].verdict, found[rejected[0]].confirmed) == ("rejected", None)
    assert other[0] not in found
    assert store.memory.past("svc")[0].incident_id == unrated[0], "newest first"


def test_a_rated_analysis_speaks_for_its_incident_over_a_later_unrated_one(db_url):
    store = Store(db_url)
    incident_id, first = analysed(store, "svc", Category.MODEL_THROTTLING)
    store.feedback.vote(first, "U1", 1)
    again = Investigation(service="svc", alarm="svc-errors", hypotheses=[], evidence_tokens=1)
    second = store.analyses.add(incident_id, again, "evidence", 1.0)
    store.memory.remember(second.id, incident_id, "svc", Fingerprint(service="svc", alarm="a"))
    store.memory.remember(second.id, incident_id, "svc", Fingerprint(service="svc", alarm="b"))
    [only] = store.memory.past("svc")
    assert (only.analysis_id, only.verdict) == (first, "confirmed")
    assert store.memory.changes(incident_id) == [{"at": "x", "name": "n"}]


def test_the_migration_creates_the_memory_tables_as_the_code_declares_them(db_url):
    store = Store(db_url)
    with store.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    names = {AnalysisFingerprint.__tablename__, ResolutionNote.__tablename__}
    assert names <= set(inspect(store.engine).get_table_names())
    assert [d for d in diff if any(name in str(d) for name in names)] == []
