"""Each post appears once in Slack, whatever Slack answers: against the fake Slack Web
API, which can apply a post and then answer 500, 503 or 504, as Slack sometimes does."""

from __future__ import annotations

import json
import logging

import pytest

from bot.sim.fakes.http import serve
from bot.sim.fakes.slack import FakeSlack, fake_slack
from bot.slack.delivery import PostUncertainError
from bot.slack.threads import Poster, web_client
from bot.store import Store


def keyed(slack: FakeSlack, key: str) -> list[dict]:
    """The messages Slack holds for a key."""
    return [
        m
        for m in slack.messages
        if (m.get("metadata") or {}).get("event_payload", {}).get("key") == key
    ]


def poster(slack: FakeSlack, ledger=None) -> Poster:
    return Poster(web_client("xoxb-test", slack.url + "/api/"), ledger=ledger, retry_wait_s=0.01)


@pytest.mark.parametrize("status", [500, 503, 504])
def test_a_post_slack_applied_before_failing_appears_once(status):
    with fake_slack() as slack:
        slack.fail_after("chat.postMessage", status)
        root = poster(slack).post("#incidents", "root", key="root:1")
        slack.fail_after("chat.postMessage", status)
        reply = poster(slack).post("C0INCIDENT", "reply", thread_ts=root[1], key="reply:1")
    assert [m["ts"] for m in keyed(slack, "root:1")] == [root[1]]
    assert [m["ts"] for m in keyed(slack, "reply:1")] == [reply[1]]
    assert slack.failed == [("chat.postMessage", status)] * 2
    assert slack.methods("conversations.list"), "the channel's id was found by its name"


def test_a_real_503_is_retried_and_the_post_appears_once():
    with fake_slack() as slack:
        slack.fail("chat.postMessage", 503)
        posted = poster(slack).post("#incidents", "root", key="root:2")
    assert [m["ts"] for m in keyed(slack, "root:2")] == [posted[1]]
    assert len(slack.methods("chat.postMessage")) == 1


def test_a_post_already_made_is_not_made_again_by_another_process(db_url):
    """A job retried after a crash asks to post its root again: the ledger in the
    database answers with the first post."""
    with fake_slack() as slack:
        first = poster(slack, Store(db_url).slack_posts).post("#incidents", "root", key="root:3")
        again = poster(slack, Store(db_url).slack_posts).post("#incidents", "root", key="root:3")
    assert first == again and len(keyed(slack, "root:3")) == 1
    assert len(slack.methods("chat.postMessage")) == 1


def test_an_unknown_outcome_is_looked_for_before_anything_is_sent_again(db_url):
    """Slack applied the post, then failed its answer and every lookup (the client's own
    retries of a read included): the post is uncertain and is not sent again; the job's
    retry (Slack back) finds it and sends nothing."""
    with fake_slack() as slack:
        slack.fail_after("chat.postMessage", 504)
        slack.fail("conversations.history", 503)
        slack.fail("conversations.history", 503)
        slack.fail("conversations.history", 503)
        slack.fail("conversations.history", 503)
        with pytest.raises(PostUncertainError):
            poster(slack, Store(db_url).slack_posts).post("#incidents", "root", key="root:4")
        assert len(keyed(slack, "root:4")) == 1
        found = poster(slack, Store(db_url).slack_posts).post("#incidents", "root", key="root:4")
    assert len(keyed(slack, "root:4")) == 1 and found[1] == keyed(slack, "root:4")[0]["ts"]
    assert len(slack.methods("chat.postMessage")) == 1


def test_an_old_post_with_the_same_key_is_not_taken_for_this_one():
    """A database started afresh counts its incidents from 1 again: the root of an old
    incident 1, long ago in the same channel, is not the new incident's root."""
    with fake_slack() as slack:
        poster(slack).post("#incidents", "an old root", key="root:7")
        slack.messages[0]["ts"] = "1700000000.000001"  # posted in 2023
        slack.fail("chat.postMessage", 503)  # the new root's first try is refused
        _, ts = poster(slack).post("#incidents", "the new root", key="root:7")
    assert [m["text"] for m in keyed(slack, "root:7")] == ["an old root", "the new root"]
    assert ts == keyed(slack, "root:7")[1]["ts"]


def test_a_lookup_slack_refuses_for_good_sends_again_and_says_so(caplog):
    """Without the history scope the post cannot be looked for: it is sent again (never
    lost), and the possible duplicate is logged."""
    fake = FakeSlack()

    def handle(path, headers, body):
        if "conversations.history" in path:
            return (
                200,
                {"Content-Type": "application/json"},
                json.dumps({"ok": False, "error": "missing_scope"}).encode(),
            )
        return fake.handle(path, headers, body)

    with serve(handle) as url:
        fake.url = url
        fake.fail_after("chat.postMessage", 500)
        with caplog.at_level(logging.WARNING):
            poster(fake).post("#incidents", "root", key="root:5")
    assert len(keyed(fake, "root:5")) == 2
    assert any("may duplicate it" in r.getMessage() for r in caplog.records)


def test_an_upload_slack_applied_before_failing_appears_once():
    with fake_slack() as slack:
        _, root = poster(slack).post("#incidents", "root", key="root:6")
        slack.fail_after("files.completeUploadExternal", 500)
        poster(slack).upload(
            "C0INCIDENT",
            root,
            [{"filename": "a-evidence.txt", "content": b"x", "title": "Full evidence"}],
        )
    shared = [m for m in slack.messages if m.get("files")]
    assert len(shared) == 1 and shared[0]["files"][0]["name"] == "a-evidence.txt"
