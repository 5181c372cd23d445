"""`stats` figures against a store filled with known analyses and votes, as the command
line, the slash command and the weekly digest show them."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import pytest

from bot.cli.main import main
from bot.config import Settings
from bot.observe.stats import compute_stats, parse_since, percentile, render
from bot.server.scheduler import digest_trigger, leased, post_digest
from bot.sim.fakes.slack import fake_slack
from bot.slack.commands import _answer
from bot.slack.threads import Poster, web_client
from bot.store import Store
from tests.fixtures.analyses import NOW, Filled


def test_the_weeks_figures(filled: Filled):
    stats = compute_stats(filled.store, NOW - timedelta(days=7))
    assert stats.analyses == 4
    assert stats.by_source == {"llm": 3, "triage": 1}
    assert (stats.up, stats.down) == (2, 3)
    assert stats.acceptance == pytest.approx(0.4)
    # 👍 a1, 👍 c2 and b1's 👎 naming its own category are right; a1's 👎 naming another
    # category is wrong; b1's bare 👎 is not counted.
    assert (stats.correct, stats.labelled) == (3, 4)
    assert stats.accuracy == pytest.approx(0.75)
    by_category = {row.key: row for row in stats.by_category}
    assert set(by_category) == {"bad_deployment", "model_throttling"}
    deploy = by_category["bad_deployment"]
    assert (deploy.analyses, deploy.up, deploy.down, deploy.correct, deploy.labelled) == (
        3,
        2,
        1,
        2,
        3,
    )
    assert by_category["model_throttling"].accuracy == 1.0
    assert by_category["model_throttling"].acceptance == 0.0
    by_model = {row.key: row.analyses for row in stats.by_model}
    assert by_model == {"claude-haiku-4-5": 2, "claude-sonnet-5": 1, "none (triage)": 1}
    assert {row.key: row.analyses for row in stats.by_prompt_version} == {"v1": 3, "none": 1}
    assert stats.cost_usd == pytest.approx(0.04)
    assert stats.cost_per_analysis_usd == pytest.approx(0.01)
    assert stats.input_tokens_per_analysis == pytest.approx(250)  # 1000 input tokens / 4
    assert stats.output_tokens_per_analysis == pytest.approx(75)
    assert stats.incidents == 3
    assert stats.time_to_first_analysis_p50_s == pytest.approx(60)
    assert stats.time_to_first_analysis_p90_s == pytest.approx(84)  # 60 + 0.8 * 30


def test_a_longer_period_takes_the_old_incident_in(filled: Filled):
    stats = compute_stats(filled.store, NOW - timedelta(days=60))
    assert stats.analyses == 5 and stats.down == 4
    assert stats.by_category[0].key == "bad_deployment"
    assert stats.cost_usd == pytest.approx(5.04)


def test_an_empty_store_has_no_rates(db_url: str):
    stats = compute_stats(Store(db_url), NOW - timedelta(days=7))
    assert stats.analyses == 0 and stats.acceptance is None and stats.accuracy is None
    assert stats.time_to_first_analysis_p50_s is None
    assert "acceptance n/a" in render(stats)


def test_periods_and_percentiles():
    assert parse_since("7d") == timedelta(days=7)
    assert parse_since("2w") == timedelta(days=14)
    assert parse_since("36h") == timedelta(hours=36)
    with pytest.raises(ValueError, match="7d"):
        parse_since("a week")
    assert percentile([10.0], 90) == 10.0
    assert percentile([1.0, 2.0, 3.0, 4.0], 50) == 2.5


def test_stats_command_prints_the_figures(
    filled: Filled, db_url: str, tmp_path, monkeypatch, capsys
):
    monkeypatch.setenv("DATABASE_URL", db_url)
    monkeypatch.setenv("LLM_INCIDENT_DATA_DIR", str(tmp_path))
    assert main(["stats", "--since", "7d", "--json"]) == 0
    figures = json.loads(capsys.readouterr().out)
    assert figures["analyses"] == 4 and figures["accuracy"] == 0.75
    assert figures["time_to_first_analysis_p90_s"] == pytest.approx(84)
    deploy = next(row for row in figures["by_category"] if row["key"] == "bad_deployment")
    assert deploy["accuracy"] == pytest.approx(2 / 3) and deploy["acceptance"] == pytest.approx(
        2 / 3
    )
    assert main(["stats"]) == 0
    text = capsys.readouterr().out
    assert "4 analyses (3 llm, 1 triage)" in text and "acceptance 40%" in text
    assert "accuracy 75% (3 of 4 labelled votes)" in text
    assert "p50 60s" in text and "p90 84s" in text
    assert "`claude-haiku-4-5`: 2 analyses" in text
    assert main(["stats", "--since", "soon"]) == 2
    assert "--since" in capsys.readouterr().err


def test_slash_command_shows_the_same_stats(filled: Filled):
    ctx = SimpleNamespace(runtime=SimpleNamespace(store=filled.store))
    answer = _answer(ctx, "stats", "", {})  # type: ignore[arg-type]
    assert answer["response_type"] == "ephemeral"
    assert "*Last 7 days: 4 analyses (3 llm, 1 triage)*" in answer["text"]
    assert "accuracy 75%" in answer["text"]
    longer = _answer(ctx, "stats", "60d", {})  # type: ignore[arg-type]
    assert "5 analyses" in longer["text"]
    wrong = _answer(ctx, "stats", "lots", {})  # type: ignore[arg-type]
    assert "Usage: `stats [7d]`" in wrong["text"]


def replica(store: Store, poster: Poster, owner: str) -> Any:
    settings = Settings(_env_file=None, LLM_INCIDENT_DEFAULT_CHANNEL="#sre")
    return SimpleNamespace(
        rt=SimpleNamespace(store=store, owner=owner, settings=settings, poster=poster)
    )


def test_the_weekly_digest_is_posted_once_whatever_the_replicas(filled: Filled):
    with fake_slack() as slack:
        poster = Poster(web_client("xoxb-test", slack.url + "/api/"))
        replicas = [replica(filled.store, poster, f"host-{n}") for n in range(3)]
        ran = [
            leased(r, "weekly-digest", timedelta(hours=1), lambda r=r: post_digest(r, poster))
            for r in replicas
        ]
        posts = slack.methods("chat.postMessage")
    assert sorted(ran) == [False, False, True]
    [post] = posts
    assert post["channel"] == "#sre"
    blocks = post["blocks"]
    text = (json.loads(blocks) if isinstance(blocks, str) else blocks)[0]["text"]["text"]
    assert text.startswith("*Weekly digest, last 7 days: 4 analyses")
    assert "accuracy 75%" in text and "p90 84s" in text


def test_the_digest_runs_mondays_at_nine_utc_unless_turned_off():
    trigger = digest_trigger(Settings(_env_file=None).digest_cron)
    assert trigger is not None
    fire = trigger.get_next_fire_time(None, datetime(2026, 11, 18, 12, 0, tzinfo=UTC))
    assert fire == datetime(2026, 11, 23, 9, 0, tzinfo=UTC)  # the next Monday
    assert digest_trigger("off") is None
    friday = digest_trigger("30 16 * * fri")
    assert friday.get_next_fire_time(None, fire).weekday() == 4


def test_confidence_buckets_stand_beside_the_accuracy_votes_observed(db_url: str, capsys):
    from bot.models import Category, Hypothesis, Investigation
    from tests.fixtures.analyses import add

    store = Store(db_url)

    def analysed(name: str, confidence: float) -> int:
        found = Investigation(
            service="svc",
            alarm=name,
            hypotheses=[
                Hypothesis(category=Category.BAD_DEPLOYMENT, confidence=confidence, title="t")
            ],
            evidence_tokens=1,
            source="triage",
        )
        return add(store, name, NOW - timedelta(hours=1), found, 30)

    sure = [analysed(f"sure-{n}", 0.9) for n in range(3)]
    unsure = [analysed(f"unsure-{n}", 0.3) for n in range(2)]
    store.feedback.vote(sure[0], "U1", 1)
    store.feedback.vote(sure[1], "U1", 1)
    store.feedback.vote(sure[2], "U1", -1, real_category="model_throttling")
    store.feedback.vote(unsure[0], "U1", -1, real_category="dependency_failure")
    store.feedback.vote(unsure[1], "U1", -1)  # says nothing about the category
    stats = compute_stats(store, NOW - timedelta(days=7))
    by_label = {b.label: b for b in stats.calibration}
    high, low = by_label["80%-100%"], by_label["20%-40%"]
    assert (high.analyses, high.correct, high.labelled) == (3, 2, 3)
    assert high.mean_confidence == pytest.approx(0.9) and high.accuracy == pytest.approx(2 / 3)
    assert (low.analyses, low.correct, low.labelled) == (2, 0, 1)
    assert by_label["40%-60%"].analyses == 0
    text = render(stats, markdown=False)
    assert "Confidence shown vs. observed accuracy" in text
    assert "80%-100%: 3 analyses, mean 90% · right 67% (2 of 3 labelled votes)" in text
    assert "20%-40%: 2 analyses, mean 30% · right 0% (0 of 1 labelled votes)" in text
    assert "40%-60%" not in text, "empty buckets are left out"
