"""The Bolt app: every listener is registered here, from each module's `register`.

Slack retries an event it thinks went unanswered (`X-Slack-Retry-Num`); the
middleware below lets each event id through once, recorded in the database so the
rule holds across processes.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from slack_bolt import App, BoltResponse

from bot.slack import commands, feedback, mentions
from bot.slack.context import BotContext

LISTENER_THREADS = 32


def build_app(ctx: BotContext, signing_secret: str, process_before_response: bool = False) -> App:
    app = App(
        client=ctx.poster.client,
        # Acks and the work after them share this pool; Bolt's default of five lets a burst
        # of slow work delay acks past Slack's three seconds.
        listener_executor=ThreadPoolExecutor(
            max_workers=LISTENER_THREADS, thread_name_prefix="bolt"
        ),
        signing_secret=signing_secret,
        process_before_response=process_before_response,
        token_verification_enabled=False,
    )

    @app.middleware
    def once_per_event(body: dict[str, Any], next: Any) -> BoltResponse | None:
        event_id = body.get("event_id")
        if event_id and not ctx.runtime.store.slack_events.first(str(event_id)):
            return BoltResponse(status=200, body="")
        return next()

    commands.register(app, ctx)
    feedback.register(app, ctx)
    mentions.register(app, ctx)
    return app
