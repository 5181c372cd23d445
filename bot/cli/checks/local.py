"""What the process reads at start: the catalog, the runbooks, the database, the LLM."""

from __future__ import annotations

from sqlalchemy import create_engine

from bot.agent.pricing import price_for
from bot.cli.checks.base import Check, first_line
from bot.config import Settings
from bot.engine.catalog import CatalogError, load_catalog
from bot.engine.runbooks import RunbookError, load_runbooks
from bot.store import database_url, redacted_url, schema


def check_catalog(settings: Settings) -> Check:
    if settings.catalog is None:
        return Check(
            "catalog",
            True,
            "LLM_INCIDENT_CATALOG not set: alarms are investigated from their own metric",
        )
    try:
        catalog = load_catalog(settings.catalog)
    except CatalogError as exc:
        return Check("catalog", False, f"{exc} (the format: docs/configuration.md)")
    return Check("catalog", True, f"{len(catalog.services)} services from {settings.catalog}")


def check_runbooks(settings: Settings) -> Check:
    try:
        books = load_runbooks(settings.runbooks_dir)
    except RunbookError as exc:
        return Check("runbooks", False, f"{exc} (LLM_INCIDENT_RUNBOOKS names the folder)")
    if not books:
        return Check(
            "runbooks", False, f"no *.md runbook in {settings.runbooks_dir}: remediation is empty"
        )
    return Check("runbooks", True, f"{len(books)} runbooks from {settings.runbooks_dir}")


def check_database(settings: Settings) -> Check:
    """Whether the database in DATABASE_URL (else the SQLite file) accepts a connection
    and is at the schema revision this version needs."""
    try:
        url = database_url(settings.database_url, settings.data_dir)
    except OSError as exc:
        return Check("database", False, f"cannot create {settings.data_dir}: {first_line(exc)}")
    shown = redacted_url(url)
    postgres = url.startswith("postgresql")
    try:
        engine = create_engine(url, connect_args={"connect_timeout": 5} if postgres else {})
    except ModuleNotFoundError as exc:
        return Check(
            "database",
            False,
            f"{shown}: driver missing ({exc.name}): install llm-incident[postgres]",
        )
    except Exception as exc:
        return Check("database", False, f"DATABASE_URL is not a database URL: {first_line(exc)}")
    try:
        with engine.connect():
            pass
    except Exception as exc:
        return Check(
            "database", False, f"{shown} unreachable: {first_line(exc)}; check DATABASE_URL"
        )
    finally:
        engine.dispose()
    try:
        found, wanted = schema.current(url), schema.head()
    except schema.SchemaError as exc:
        return Check("database", False, str(exc))
    if found != wanted:
        at = f"at revision {found}" if found else "empty"
        return Check("database", False, f"{shown} is {at}: run `llm-incident db upgrade`")
    return Check("database", True, f"{shown} reachable, schema at {wanted}")


def check_llm(settings: Settings) -> Check:
    provider, model = settings.llm_provider, settings.llm_model or ""
    if provider in (None, "none"):
        return Check(
            "llm",
            True,
            "none: the triage is the analysis (set ANTHROPIC_API_KEY, or LLM_PROVIDER=bedrock)",
        )
    if provider == "anthropic" and settings.anthropic_api_key is None:
        return Check("llm", False, "LLM_PROVIDER=anthropic but ANTHROPIC_API_KEY is not set")
    for name, value in (("LLM_MODEL", model), ("LLM_FALLBACK_MODEL", settings.llm_fallback_model)):
        if value and not price_for(value).known:
            return Check(
                "llm",
                False,
                f"{name}={value} has no price in bot/pricing.py: LLM_MAX_COST_USD would be "
                "enforced at a guessed price; use a listed model id or add its price",
            )
    where = f" in {settings.aws_region} (bedrock:InvokeModel is not probed)"
    return Check("llm", True, f"{provider}, model {model}{where if provider == 'bedrock' else ''}")
