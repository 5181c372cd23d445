"""Socket Mode as Slack runs it: `llm-incident serve` with an app token opens a WebSocket
to the URL `apps.connections.open` returns, receives a slash command envelope and
acknowledges it on the socket with the answer: no inbound port anywhere."""

import contextlib
import json
import os
import queue
import subprocess
import sys
import threading
from pathlib import Path

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve as websocket_server

from bot.sim.fakes.slack import fake_slack

ROOT = Path(__file__).parents[2]


def test_serve_in_socket_mode_answers_a_slash_command_over_the_socket(tmp_path, db_url):
    acks: queue.Queue[dict] = queue.Queue()
    opened: queue.Queue[str] = queue.Queue()

    def session(socket):
        opened.put(socket.request.path)
        socket.send(json.dumps({"type": "hello", "num_connections": 1}))
        envelope = {
            "envelope_id": "env-1",
            "type": "slash_commands",
            "accepts_response_payload": True,
            "payload": {
                "command": "/llm-incident",
                "text": "help",
                "user_id": "U1",
                "team_id": "T1",
                "channel_id": "C1",
                "trigger_id": "t",
                "response_url": "http://127.0.0.1:9/unused",
            },
        }
        socket.send(json.dumps(envelope))
        with contextlib.suppress(ConnectionClosed):  # the bot stops at the end of the test
            for message in socket:
                acks.put(json.loads(message))

    with (
        websocket_server(session, "127.0.0.1", 0) as server,
        fake_slack() as slack,
    ):
        threading.Thread(target=server.serve_forever, daemon=True).start()
        slack.socket_url = f"ws://127.0.0.1:{server.socket.getsockname()[1]}/link"
        env = {
            **os.environ,
            "SLACK_BOT_TOKEN": "xoxb-test",
            "SLACK_APP_TOKEN": "xapp-test",
            "SLACK_API_URL": slack.url + "/api/",
            "DATABASE_URL": db_url,
            "LLM_INCIDENT_DATA_DIR": str(tmp_path),
            "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
        }
        bot = subprocess.Popen(
            [sys.executable, "-m", "bot.cli.main", "serve"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        try:
            assert opened.get(timeout=30).startswith("/link")
            ack = acks.get(timeout=30)
        finally:
            bot.terminate()
            stderr = bot.communicate(timeout=10)[1].decode()
            server.shutdown()
    assert ack["envelope_id"] == "env-1", stderr
    assert "analyze" in ack["payload"]["text"], "the help text came back on the socket"
    assert slack.methods("apps.connections.open"), "the socket URL came from the Web API"
