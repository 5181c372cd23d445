"""The store's promises across processes: each `Store` below has its own engine and
connection pool, as two replicas on one database would (PostgreSQL where
TEST_DATABASE_URL is set, else a shared SQLite file)."""

import threading
from datetime import timedelta

import pytest

from bot.cli.main import main
from bot.models import AlarmState, Investigation
from bot.store import Store
from tests.factories import ALARM

WINDOW = timedelta(minutes=30)


def together(*calls):
    """Run the calls at the same moment on their own threads; their results in order."""
    results = [None] * len(calls)
    start = threading.Barrier(len(calls))

    def run(i, call):
        start.wait()
        results[i] = call()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return results


def test_one_delivery_reaching_two_replicas_opens_one_incident(db_url):
    first, second = Store(db_url), Store(db_url)
    outcomes = together(
        lambda: first.incidents.record_alarm("sns-1", ALARM, "svc", WINDOW).outcome,
        lambda: second.incidents.record_alarm("sns-1", ALARM, "svc", WINDOW).outcome,
    )
    assert sorted(outcomes) == ["duplicate", "opened"]
    assert len(first.incidents.list_open()) == 1


def test_two_alarms_of_one_service_on_two_replicas_make_one_incident(db_url):
    stores = [Store(db_url) for _ in range(4)]
    alarms = [ALARM.model_copy(update={"name": f"alarm-{i}"}) for i in range(4)]
    outcomes = together(
        *[
            (lambda s=s, a=a, i=i: s.incidents.record_alarm(f"k-{i}", a, "svc", WINDOW).outcome)
            for i, (s, a) in enumerate(zip(stores, alarms, strict=True))
        ]
    )
    assert sorted(outcomes) == ["grouped", "grouped", "grouped", "opened"]
    [incident] = stores[0].incidents.list_open()
    assert sorted(stores[0].incidents.firing_alarms(incident.id)) == [a.name for a in alarms]


def test_only_a_new_alarm_name_is_news_to_its_incident(db_url):
    store = Store(db_url)
    other = ALARM.model_copy(update={"name": "other-alarm"})
    deliveries = [
        store.incidents.record_alarm("1", ALARM, "svc", WINDOW),
        store.incidents.record_alarm(
            "2", ALARM, "svc", WINDOW
        ),  # the same alarm again (re-evaluated)
        store.incidents.record_alarm("3", other, "svc", WINDOW),
        store.incidents.record_alarm("4", other, "svc", WINDOW),
    ]
    assert [d.outcome for d in deliveries] == ["opened", "grouped", "grouped", "grouped"]
    assert [d.newcomer for d in deliveries[1:]] == [False, True, False]


def test_a_flapping_alarm_folds_into_its_incident(db_url):
    store = Store(db_url)
    ok = ALARM.model_copy(update={"state": AlarmState.OK})
    outcomes = [
        store.incidents.record_alarm("1", ALARM, "svc", WINDOW),
        store.incidents.record_alarm("2", ok, "svc", WINDOW),
        store.incidents.record_alarm("3", ALARM, "svc", WINDOW),
        store.incidents.record_alarm("4", ok, "svc", WINDOW),
        store.incidents.record_alarm("5", ALARM, "svc", WINDOW),
    ]
    assert [d.outcome for d in outcomes] == ["opened", "resolved", "refired", "resolved", "refired"]
    assert {d.incident.id for d in outcomes} == {outcomes[0].incident.id}
    assert [d.job_id is not None for d in outcomes] == [True, False, False, False, False], (
        "a flap is told in the thread, not analysed again"
    )
    assert store.incidents.get(outcomes[0].incident.id).flaps == 2


def test_an_alarm_after_the_grouping_window_opens_a_new_incident(db_url):
    store = Store(db_url)
    first = store.incidents.record_alarm("1", ALARM, "svc", WINDOW)
    later = store.incidents.record_alarm("2", ALARM, "svc", timedelta(0))
    assert later.outcome == "opened" and later.incident.id != first.incident.id


def test_exactly_one_replica_claims_a_job_until_its_lease_runs_out(db_url):
    first, second = Store(db_url), Store(db_url)
    job = first.incidents.record_alarm("1", ALARM, "svc", WINDOW).job_id
    claims = together(
        lambda: first.jobs.claim(job, "a", timedelta(minutes=1)),
        lambda: second.jobs.claim(job, "b", timedelta(minutes=1)),
    )
    assert sum(c is not None for c in claims) == 1
    winner = "a" if claims[0] else "b"
    loser, loser_store = ("b", second) if winner == "a" else ("a", first)
    assert loser_store.jobs.stale(timedelta(minutes=1)) == []
    # The winner dies: its lease runs out and the other replica takes the job over.
    first.jobs.renew(job, winner, timedelta(seconds=-1))
    assert loser_store.jobs.stale(timedelta(minutes=1)) == [job]
    assert loser_store.jobs.claim(job, loser, timedelta(minutes=1)).attempts == 2


def test_a_scheduled_job_lease_has_one_holder_at_a_time(db_url):
    stores = [Store(db_url) for _ in range(3)]
    won = together(
        *[
            (lambda s=s, i=i: s.leases.acquire("digest", f"p{i}", timedelta(minutes=5)))
            for i, s in enumerate(stores)
        ]
    )
    assert won.count(True) == 1
    holder = won.index(True)
    assert stores[holder].leases.acquire("digest", f"p{holder}", timedelta(seconds=-1))
    other = (holder + 1) % 3
    assert stores[other].leases.acquire("digest", f"p{other}", timedelta(minutes=5))


def test_a_double_click_stores_one_vote(db_url):
    first, second = Store(db_url), Store(db_url)
    delivery = first.incidents.record_alarm("1", ALARM, "svc", WINDOW)
    analysis = first.analyses.add(
        delivery.incident.id,
        Investigation(service="svc", alarm=ALARM.name, hypotheses=[], evidence_tokens=0),
        "",
        1.0,
    )
    together(
        lambda: first.feedback.vote(analysis.id, "U1", 1),
        lambda: second.feedback.vote(analysis.id, "U1", 1),
    )
    assert first.feedback.tally(analysis.id) == (1, 0)


def test_db_upgrade_then_current(empty_db_url, capsys, monkeypatch):
    monkeypatch.setenv("DATABASE_URL", empty_db_url)
    assert main(["db", "current"]) == 0
    assert "revision none" in capsys.readouterr().out
    assert main(["db", "upgrade"]) == 0
    assert "(up to date)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (None, "run `llm-incident db upgrade`"),
        ("postgresql+psycopg://bot:s3cret@127.0.0.1:9/none", "is unreachable"),
    ],
)
def test_serve_stops_with_one_line_when_the_database_is_not_ready(
    url, expected, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-test")
    monkeypatch.setenv("SLACK_SIGNING_SECRET", "s")
    monkeypatch.setenv("LLM_INCIDENT_DATA_DIR", str(tmp_path))
    if url:
        monkeypatch.setenv("DATABASE_URL", url)
    assert main(["serve", "--http", "--port", "0"]) == 2
    [line] = capsys.readouterr().err.strip().splitlines()
    assert expected in line and "s3cret" not in line


def test_the_migrations_make_exactly_the_tables_the_code_declares(db_url):
    """Revision 0002 (alarm sources, Slack posts, Slack event leases) on top of 0001 is
    the schema `bot.store.tables` describes: nothing missing, nothing extra."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bot.store.tables import Base

    engine = Store(db_url).engine
    with engine.connect() as connection:
        differences = compare_metadata(MigrationContext.configure(connection), Base.metadata)
    assert differences == []


def test_events_recorded_before_0002_count_as_handled(empty_db_url):
    from sqlalchemy import text

    from bot.store.schema import upgrade

    upgrade(empty_db_url, "0001")
    store = Store(empty_db_url)
    with store.engine.begin() as connection:
        connection.execute(
            text("INSERT INTO slack_events (event_id, received_at) VALUES ('Ev-old', '2026-11-01')")
        )
    upgrade(empty_db_url)
    assert store.slack_events.state("Ev-old") == "done"
    assert not store.slack_events.claim("Ev-old", "me", timedelta(minutes=2))


def test_each_sender_is_one_row_however_many_deliveries(db_url):
    first, second = Store(db_url), Store(db_url)
    stranger = "arn:aws:sns:us-east-1:999988887777:theirs"
    together(
        *[
            (lambda s=s: s.sources.count("sns-http", "999988887777", stranger, "a", "not allowed"))
            for s in (first, second) * 3
        ]
    )
    first.sources.count("sns-http", "999988887777", stranger, "b")
    [row] = first.sources.refused()
    assert (row.refused, row.taken, row.last_alarm) == (6, 1, "b")
