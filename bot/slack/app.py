"""The Bolt app: every listener is registered here, from each module's `register`.

Slack retries an event it thinks went unanswered (`X-Slack-Retry-Num`, up to three
times over about five minutes). Each event id is claimed in the database under a lease
before its listener runs, and marked done only once the listener finished: a retry
while it runs (or after it finished) is answered and dropped; a listener that raised
gives its claim back at once, and one whose process died leaves a lease that runs out,
so Slack's next retry handles the event again, once (`SlackEventStore.MAX_ATTEMPTS`).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from slack_bolt import App, BoltRequest, BoltResponse
from slack_bolt.listener.listener_completion_handler import ListenerCompletionHandler
from slack_bolt.listener.listener_error_handler import ListenerErrorHandler

from bot.slack import commands, feedback, mentions
from bot.slack.context import BotContext
from bot.store.feedback import SlackEventStore

LISTENER_THREADS = 32
# Longer than a listener takes (a mention's answer with the LLM), shorter than the five
# minutes before Slack's last retry.
EVENT_LEASE = timedelta(minutes=2)
EVENT_ID = "llm_incident_event_id"
FAILED = "llm_incident_event_failed"


class _ReleaseOnError(ListenerErrorHandler):
    """A listener that raised gives its event back: Slack's next retry may handle it."""

    def __init__(self, inner: ListenerErrorHandler, events: SlackEventStore) -> None:
        self.inner, self.events = inner, events

    def handle(self, error: Exception, request: BoltRequest, response: BoltResponse | None) -> None:
        event_id = request.context.get(EVENT_ID)
        if event_id:
            request.context[FAILED] = True
            self.events.release(event_id)
        self.inner.handle(error=error, request=request, response=response)


class _DoneOnCompletion(ListenerCompletionHandler):
    """A listener that finished marks its event done."""

    def __init__(self, inner: ListenerCompletionHandler, events: SlackEventStore) -> None:
        self.inner, self.events = inner, events

    def handle(self, request: BoltRequest, response: BoltResponse | None) -> None:
        event_id = request.context.get(EVENT_ID)
        if event_id and not request.context.get(FAILED):
            self.events.done(event_id)
        self.inner.handle(request=request, response=response)


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
    events = ctx.runtime.store.slack_events
    runner = app.listener_runner
    runner.listener_error_handler = _ReleaseOnError(runner.listener_error_handler, events)
    runner.listener_completion_handler = _DoneOnCompletion(
        runner.listener_completion_handler, events
    )

    @app.middleware
    def once_per_event(body: dict[str, Any], context: Any, next: Any) -> BoltResponse | None:
        event_id = body.get("event_id")
        if not event_id:
            return next()
        if not events.claim(str(event_id), ctx.runtime.owner, EVENT_LEASE):
            return BoltResponse(status=200, body="")
        context[EVENT_ID] = str(event_id)
        return next()

    commands.register(app, ctx)
    feedback.register(app, ctx)
    mentions.register(app, ctx)
    return app
