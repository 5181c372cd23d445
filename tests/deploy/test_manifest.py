"""deploy/slack-app-manifest.yaml asks Slack for exactly what the code uses.

The real Bolt app is built and sent one signed request per kind Slack can send (a
broad list of event types, the slash command, button clicks, the modal's submission):
what it handles must be subscribed in the manifest, and what it does not handle must
not be. Every registered listener must be reached by one of those requests, so a new
listener of a kind not probed here fails too. The bot scopes are derived from the Web
API methods the code calls (a scan of bot/), the events and the command.
"""

from __future__ import annotations

import ast
import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
import yaml
from slack_bolt import App, BoltRequest, BoltResponse
from slack_sdk import WebClient

from bot.cli.checks.slack import SLACK_SCOPES
from bot.config import Settings
from bot.server.runtime import build
from bot.sim.fakes.slack import fake_slack, signed_headers
from bot.slack import blocks

ROOT = Path(__file__).resolve().parents[2]
MANIFEST = ROOT / "deploy" / "slack-app-manifest.yaml"
SECRET = "manifest-test-secret"
# Event types a Slack app can subscribe to that a bot like this one might handle.
EVENT_TYPES = [
    "app_home_opened",
    "app_mention",
    "app_uninstalled",
    "channel_archive",
    "channel_created",
    "channel_left",
    "channel_rename",
    "emoji_changed",
    "file_shared",
    "link_shared",
    "member_joined_channel",
    "member_left_channel",
    "message",
    "pin_added",
    "reaction_added",
    "reaction_removed",
    "subteam_members_changed",
    "team_join",
    "tokens_revoked",
    "user_change",
]
ACTION_IDS = [blocks.FEEDBACK_UP, blocks.FEEDBACK_DOWN]
VIEW_IDS = [blocks.DOWNVOTE_MODAL]
# The scope each Web API method needs (docs.slack.dev's page of each method); None: none.
METHOD_SCOPES: dict[str, str | None] = {
    "auth_test": None,
    "chat_getPermalink": None,
    "chat_postEphemeral": "chat:write",  # the calibration note after a 👎, to its sender
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    # A post Slack may have applied before failing is looked for before it is sent again;
    # the incident report reads its thread.
    "conversations_history": "channels:history",
    "conversations_replies": "channels:history",
    "conversations_list": "channels:read",  # a channel given by name: its id
    "files_upload_v2": "files:write",  # files.getUploadURLExternal + completeUploadExternal
    "usergroups_users_list": "usergroups:read",
    "views_open": None,
    "views_publish": None,
}
BOLT_HELPERS = {"say": "chat_postMessage", "respond": None}  # respond posts to response_url
EVENT_SCOPES: dict[str, str | None] = {
    "app_home_opened": None,
    "app_mention": "app_mentions:read",
    "reaction_added": "reactions:read",
}
# Scopes no call proves but the bot needs, and why.
JUSTIFIED = {
    "chat:write.public": "posts to a service's channel from the catalog without an invitation",
    "groups:history": "the same lookups and reports in a private incident channel",
    "groups:read": "the same lookups in a private incident channel",
}


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    return yaml.safe_load(MANIFEST.read_text())


@pytest.fixture
def app(tmp_path: Path, db_url: str) -> Iterator[App]:
    """The bot's real Bolt app, talking to a fake Slack."""
    with fake_slack() as slack:
        settings = Settings(
            SLACK_BOT_TOKEN="xoxb-test",
            SLACK_SIGNING_SECRET=SECRET,
            SLACK_API_URL=slack.url + "/api/",
            LLM_INCIDENT_DATA_DIR=tmp_path,
            DATABASE_URL=db_url,
            LLM_INCIDENT_DEFAULT_CHANNEL="#oncall",
        )
        ctx, bolt = build(settings)
        yield bolt
        bolt.listener_runner.listener_executor.shutdown(wait=True)  # type: ignore[attr-defined]
        ctx.runtime.executor.shutdown(wait=True, cancel_futures=True)


_ids = itertools.count(1)


def _event(kind: str) -> BoltRequest:
    event = {
        "type": kind,
        "user": "U1",
        "channel": "C1",
        "ts": "1700000000.000100",
        "event_ts": "1700000000.000100",
        "text": "<@UBOT> hello",
        "tab": "home",
        "reaction": "eyes",
        "item": {"type": "message", "channel": "C1", "ts": "1700000000.000001"},
    }
    body = {
        "type": "event_callback",
        "team_id": "T1",
        "api_app_id": "A1",
        "event_id": f"Ev{next(_ids):08d}",
        "event_time": int(time.time()),
        "event": event,
    }
    return _signed(json.dumps(body), "application/json")


def _command(command: str) -> BoltRequest:
    fields = {
        "command": command,
        "text": "help",
        "user_id": "U1",
        "channel_id": "C1",
        "channel_name": "oncall",
        "team_id": "T1",
        "response_url": "https://hooks.slack.invalid/commands/1",
        "trigger_id": "1.2.3",
    }
    return _signed(urlencode(fields), "application/x-www-form-urlencoded")


def _interaction(payload: dict[str, Any]) -> BoltRequest:
    base = {"team": {"id": "T1"}, "user": {"id": "U1"}, "api_app_id": "A1", "trigger_id": "1.2.3"}
    body = urlencode({"payload": json.dumps({**base, **payload})})
    return _signed(body, "application/x-www-form-urlencoded")


def _action(action_id: str) -> BoltRequest:
    return _interaction(
        {
            "type": "block_actions",
            "channel": {"id": "C1"},
            "message": {"ts": "1700000000.000001"},
            "actions": [{"type": "button", "action_id": action_id, "value": "999999"}],
        }
    )


def _view(callback_id: str) -> BoltRequest:
    return _interaction(
        {
            "type": "view_submission",
            "view": {
                "id": "V1",
                "type": "modal",
                "callback_id": callback_id,
                "private_metadata": "999999|C1|1700000000.000001",
                "state": {"values": {}},
            },
        }
    )


def _signed(body: str, content_type: str) -> BoltRequest:
    headers = signed_headers(body, SECRET, content_type)
    return BoltRequest(body=body, headers={k.lower(): v for k, v in headers.items()})


def _probes(manifest: dict[str, Any]) -> dict[tuple[str, str], BoltRequest]:
    """(kind, name) -> a signed request of that kind."""
    commands = [c["command"] for c in manifest["features"].get("slash_commands", [])]
    return {
        **{("event", kind): _event(kind) for kind in EVENT_TYPES},
        **{("command", name): _command(name) for name in commands},
        **{("action", name): _action(name) for name in ACTION_IDS},
        **{("view", name): _view(name) for name in VIEW_IDS},
    }


def handled(app: App, manifest: dict[str, Any]) -> set[tuple[str, str]]:
    """The probes the app answers (Bolt answers 404 to what no listener matches), after
    checking that every listener is reached by at least one of them."""
    for listener in app._listeners:
        # Fresh requests: matching caches per-request context (`say`) that dispatch would reuse.
        reached = [
            key
            for key, request in _probes(manifest).items()
            if listener.matches(req=request, resp=BoltResponse(status=200))
        ]
        assert reached, (
            f"a listener ({listener.ack_function.__qualname__}) handles a request none of "
            "the probes sends: add it to the manifest and to this test's probes"
        )
    return {
        key for key, request in _probes(manifest).items() if app.dispatch(request).status != 404
    }


def test_the_manifest_subscribes_to_exactly_the_events_the_app_handles(app, manifest):
    events = {name for kind, name in handled(app, manifest) if kind == "event"}
    assert events == {"app_home_opened", "app_mention", "reaction_added"}
    assert set(manifest["settings"]["event_subscriptions"]["bot_events"]) == events


def test_every_slash_command_in_the_manifest_is_handled(app, manifest):
    commands = {c["command"] for c in manifest["features"]["slash_commands"]}
    assert {name for kind, name in handled(app, manifest) if kind == "command"} == commands
    assert commands == {"/llm-incident"}


def test_interactivity_is_on_because_buttons_and_the_modal_are_handled(app, manifest):
    found = handled(app, manifest)
    interactive = {key for key in found if key[0] in ("action", "view")}
    assert interactive == {("action", a) for a in ACTION_IDS} | {("view", v) for v in VIEW_IDS}
    assert manifest["settings"]["interactivity"]["is_enabled"] is True


def test_the_app_home_tab_is_on_because_app_home_opened_publishes_it(manifest):
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def web_api_methods() -> dict[str, set[str]]:
    """Web API methods the bot's code calls (`client.chat_update(...)`, Bolt's `say(...)`),
    with the files that call them."""
    methods = {
        name for name, value in vars(WebClient).items() if callable(value) and "_" in name
    } - {n for n in vars(WebClient) if n.startswith("_")}
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / "bot").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            name = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            method = BOLT_HELPERS.get(name, name) if isinstance(node.func, ast.Name) else name
            if method in methods:
                found.setdefault(method, set()).add(path.relative_to(ROOT).as_posix())
    return found


def test_the_code_calls_these_web_api_methods():
    assert set(web_api_methods()) == set(METHOD_SCOPES), (
        "a Web API method was added or dropped: give it its scope in METHOD_SCOPES"
    )


def test_the_bot_scopes_are_exactly_those_the_code_needs(app, manifest):
    found = handled(app, manifest)
    needed = {METHOD_SCOPES[m] for m in web_api_methods()}
    needed |= {EVENT_SCOPES[name] for kind, name in found if kind == "event"}
    needed |= {"commands"} if any(kind == "command" for kind, _ in found) else set()
    needed = {s for s in needed if s} | set(JUSTIFIED)
    assert set(manifest["oauth_config"]["scopes"]["bot"]) == needed
    assert needed == SLACK_SCOPES, "bot/cli/checks/slack.py checks the installed app for these"


def test_the_probes_reach_unknown_listeners():
    """The coverage check above can fail: a listener for an event no probe sends."""
    bolt = App(signing_secret=SECRET, token_verification_enabled=False, token="xoxb-x")
    bolt.event("channel_id_changed")(lambda: None)
    manifest = {"features": {"slash_commands": []}}
    with pytest.raises(AssertionError, match="none of the probes sends"):
        handled(bolt, manifest)
