"""Build the running bot from settings: store, catalog, runbooks, AWS, Slack, flow."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from slack_bolt import App

from bot.agent.loop import build_agent
from bot.config import ConfigError, Settings
from bot.engine.catalog import load_catalog
from bot.engine.runbooks import load_runbooks
from bot.incidents.flow import Incidents, Runtime
from bot.observe.telemetry import Telemetry, build_telemetry
from bot.slack.app import build_app
from bot.slack.context import BotContext
from bot.slack.threads import Poster, SlackThread, web_client
from bot.store import Store, database_url
from bot.store.schema import require_current, upgrade
from tools.aws import AwsClients


def require(settings: Settings, *names: str) -> None:
    """Stop with one line naming the first missing setting."""
    for name in names:
        if getattr(settings, name.lower().removeprefix("llm_incident_"), None) in (None, ""):
            raise ConfigError(f"{name} is not set; see docs/configuration.md")


class InlineExecutor(Executor):
    """Runs work in the caller's thread. On Lambda nothing may outlive the invocation
    (the sandbox freezes once the handler returns), so analyses run before it does."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        future: Future[Any] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as exc:
            future.set_exception(exc)
        return future


def build(
    settings: Settings,
    process_before_response: bool = False,
    inline: bool = False,
    telemetry: Telemetry | None = None,
) -> tuple[BotContext, App]:
    """Everything the bot runs on; stops with one line when a setting is missing or the
    database is unreachable or behind the code's schema. Telemetry is built from the
    settings unless the caller built it (to add `/metrics` or EMF to it)."""
    require(settings, "SLACK_BOT_TOKEN")
    url = database_url(settings.database_url, settings.data_dir)
    if settings.auto_migrate:  # one process, or a Lambda on its own database: no upgrade step
        upgrade(url)
    require_current(url)
    telemetry = telemetry or build_telemetry(settings)
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    )
    store = Store(url, settings.db_retry_s)
    poster = Poster(web_client(token, settings.slack_api_url), ledger=store.slack_posts)

    def permalink(channel: str, ts: str) -> str | None:
        return poster.client.chat_getPermalink(channel=channel, message_ts=ts).get("permalink")

    runtime = Runtime(
        settings=settings,
        store=store,
        catalog=load_catalog(settings.catalog),
        runbooks=load_runbooks(settings.runbooks_dir),
        aws=AwsClients(settings.aws_region, settings.aws_endpoint_url),
        thread=SlackThread(poster),
        executor=InlineExecutor()
        if inline
        else ThreadPoolExecutor(
            max_workers=settings.analysis_workers, thread_name_prefix="analysis"
        ),
        agent=build_agent(settings, telemetry),
        telemetry=telemetry,
        grouping_window=timedelta(minutes=settings.grouping_window_minutes),
        job_lease=timedelta(seconds=settings.job_lease_s),
        permalink=permalink,
    )
    if inline:
        runtime.notes = runtime.executor
    ctx = BotContext(runtime, Incidents(runtime), poster)
    return ctx, build_app(ctx, secret, process_before_response)
