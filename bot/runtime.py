"""Build the running bot from settings: store, catalog, runbooks, AWS, Slack, flow."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from slack_bolt import App

from bot.agent import build_agent
from bot.catalog import load_catalog
from bot.config import ConfigError, Settings
from bot.incidents import Incidents, Runtime
from bot.runbooks import load_runbooks
from bot.slack.app import build_app
from bot.slack.context import BotContext
from bot.slack.threads import Poster, web_client
from bot.store import Store, database_url
from tools.aws import AwsClients

ANALYSIS_WORKERS = 4


def require(settings: Settings, *names: str) -> None:
    """Stop with one line naming the first missing setting."""
    for name in names:
        if getattr(settings, name.lower().removeprefix("llm_incident_"), None) in (None, ""):
            raise ConfigError(f"{name} is not set; see the README's configuration table")


def build(settings: Settings, process_before_response: bool = False) -> tuple[BotContext, App]:
    require(settings, "SLACK_BOT_TOKEN")
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else ""
    secret = (
        settings.slack_signing_secret.get_secret_value() if settings.slack_signing_secret else ""
    )
    runtime = Runtime(
        settings=settings,
        store=Store(database_url(settings.database_url, settings.data_dir)),
        catalog=load_catalog(settings.catalog),
        runbooks=load_runbooks(settings.runbooks_dir),
        aws=AwsClients(settings.aws_region, settings.aws_endpoint_url),
        poster=Poster(web_client(token, settings.slack_api_url)),
        executor=ThreadPoolExecutor(max_workers=ANALYSIS_WORKERS, thread_name_prefix="analysis"),
        agent=build_agent(settings),
    )
    ctx = BotContext(runtime, Incidents(runtime))
    return ctx, build_app(ctx, secret, process_before_response)
