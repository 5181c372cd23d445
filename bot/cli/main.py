"""The `llm-incident` command line.

Exit codes: 0 success, 1 the work failed, 2 bad input (a malformed scenario,
catalog, runbook or setting; the message names the file and the field).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from bot.cli.discover import add_discover, run_discover
from bot.config import BUNDLED_SCENARIOS, ConfigError, Settings, load_settings
from bot.engine.catalog import load_catalog
from bot.engine.runbooks import load_runbooks, search
from bot.errors import BadInputError

if TYPE_CHECKING:
    from bot.store import Store
    from tools.aws import AwsClients

EXIT_BAD_INPUT = 2
DEMO_SCENARIO = "demo-model-throttling-retry-storm.yaml"
SIM_EXTRA = "pip install 'llm-incident[sim]'"


def _require_simulator(command: str) -> None:
    """The simulator's emulator (moto) is an optional extra: the server and the Lambda
    package ship without it, and these commands say so in one line."""
    if importlib.util.find_spec("moto") is None:
        raise BadInputError(
            f"{command} needs the AWS emulator, which is not installed: {SIM_EXTRA}"
        )


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="llm-incident",
        description="Investigate CloudWatch alarms of GenAI services on AWS.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    commands = parser.add_subparsers(dest="command", required=True)

    investigate = commands.add_parser("investigate", help="investigate one alarm or scenario")
    source = investigate.add_mutually_exclusive_group(required=True)
    source.add_argument("--scenario", type=Path, help="a scenario file (docs/scenario-format.md)")
    source.add_argument("--alarm", help="the name of a CloudWatch alarm in the account")
    investigate.add_argument(
        "--offline",
        action="store_true",
        help="replay the scenario into an in-process AWS emulator (no network, no LLM)",
    )
    investigate.add_argument("--region", help="AWS region of the alarm (default AWS_REGION)")
    investigate.add_argument("--json", action="store_true", help="print the investigation JSON")

    simulate = commands.add_parser(
        "simulate", help="seed a scenario into an AWS endpoint and print its SNS notification"
    )
    simulate.add_argument("--scenario", type=Path, required=True)
    simulate.add_argument("--endpoint-url", required=True, help="e.g. a moto server's URL")
    simulate.add_argument(
        "--eventbridge", action="store_true", help="print the EventBridge event instead"
    )

    runbooks = commands.add_parser("runbooks", help="list or search the runbooks")
    runbooks.add_argument("query", nargs="*", help="words to search for")

    serve = commands.add_parser("serve", help="run the Slack bot (Socket Mode or --http)")
    serve.add_argument("--http", action="store_true", help="serve HTTP instead of Socket Mode")
    serve.add_argument("--host", default="0.0.0.0", help="HTTP bind address")  # noqa: S104
    serve.add_argument("--port", type=int, default=3000, help="HTTP port")

    db = commands.add_parser("db", help="database schema: upgrade, or show the revision")
    db.add_argument("action", choices=["upgrade", "current"])

    check_alarm = commands.add_parser(
        "check-alarm", help="show how the bot reads an alarm payload (posts nothing)"
    )
    check_alarm.add_argument(
        "file", help="a payload file in any shape AWS delivers, or - for stdin"
    )
    check_alarm.add_argument("--json", action="store_true", help="print the reading as JSON")

    check = commands.add_parser("check-config", help="check settings, Slack, database, AWS access")
    check.add_argument(
        "--aws", action="store_true", help="also ask AWS once per read action the tools take"
    )

    demo = commands.add_parser("demo", help="play a bundled incident end to end, offline")
    demo.add_argument("--scenario", type=Path, help="a scenario file (default: a bundled one)")
    demo.add_argument(
        "--output", type=Path, default=Path("demo-output"), help="where the chart PNG is written"
    )

    stats = commands.add_parser("stats", help="analyses, acceptance, accuracy, cost, latency")
    stats.add_argument("--since", default="7d", help="period to look back: 7d, 24h, 2w (7d)")
    stats.add_argument("--json", action="store_true", help="print the figures as JSON")

    feedback = commands.add_parser(
        "export-feedback", help="write every rated analysis (evidence, answer, label) as JSONL"
    )
    feedback.add_argument("--out", type=Path, required=True, help="the JSON-lines file")

    exported = commands.add_parser(
        "export-scenario", help="write a stored incident's telemetry back as a scenario file"
    )
    exported.add_argument("--incident", type=int, required=True, help="the incident's id")
    exported.add_argument("--out", type=Path, required=True, help="the scenario YAML file")
    exported.add_argument("--region", help="AWS region to read (default: the alarm's)")

    report = commands.add_parser(
        "report", help="write an incident's report (Markdown) from the store and its thread"
    )
    report.add_argument("incident", type=int, help="the incident's id")
    report.add_argument(
        "--out", type=Path, help="write the report here, the chart beside it (default: stdout)"
    )

    add_discover(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("apscheduler").setLevel(logging.WARNING)  # a line per poll is noise
    try:
        settings = load_settings()
        handler = {
            "investigate": _investigate,
            "simulate": _simulate,
            "runbooks": _runbooks,
            "demo": _demo,
            "serve": _serve,
            "db": _db,
            "stats": _stats,
            "export-feedback": _export_feedback,
            "export-scenario": _export_scenario,
            "check-config": _check_config,
            "check-alarm": _check_alarm,
            "discover": run_discover,
            "report": _report,
        }[args.command]
        return handler(args, settings)
    except BadInputError as exc:
        print(f"llm-incident: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


def _investigate(args: argparse.Namespace, settings: Settings) -> int:
    from bot.agent.loop import build_agent
    from bot.cli.render import print_investigation
    from bot.engine.investigate import describe_alarm, gather_options, investigate
    from tools.aws import AwsClients

    books = load_runbooks(settings.runbooks_dir)
    if args.scenario:
        if not args.offline:
            print(
                "llm-incident: --scenario needs --offline (or seed it with `simulate` and "
                "use --alarm against that endpoint)",
                file=sys.stderr,
            )
            return EXIT_BAD_INPUT
        _require_simulator("investigate --offline")
        from bot.sim.replay import emulated

        with emulated(args.scenario, settings) as run:
            investigation, bundle = investigate(
                run.aws,
                run.alarm,
                run.service,
                books,
                now=run.telemetry.end,
                options=gather_options(settings),
            )
        # Offline means no network: the LLM is never asked.
        investigation.fallback_reason = "offline: the LLM is not used"
    else:
        catalog = load_catalog(settings.catalog)
        aws = AwsClients(args.region or settings.aws_region, settings.aws_endpoint_url)
        alarm = describe_alarm(aws, args.alarm)
        if alarm is None:
            print(f"llm-incident: no metric alarm named {args.alarm!r}", file=sys.stderr)
            return 1
        from bot.observe.telemetry import build_telemetry

        telemetry = build_telemetry(settings)  # OTLP or the telemetry file, when set
        try:
            investigation, bundle = investigate(
                aws,
                alarm,
                catalog.resolve(alarm),
                books,
                options=gather_options(settings),
                agent=build_agent(settings, telemetry),
            )
        finally:
            telemetry.shutdown()  # exports what is buffered before the process ends
    if args.json:
        print(investigation.model_dump_json(indent=2))
    else:
        print_investigation(investigation, bundle)
    return 0


def _simulate(args: argparse.Namespace, settings: Settings) -> int:
    _require_simulator("simulate")
    import boto3

    from bot.sim.emulator import EMULATOR_CREDENTIALS
    from bot.sim.payloads import eventbridge_event
    from bot.sim.replay import replay
    from bot.sim.scenario import load_scenario
    from tools.aws import AwsClients

    scenario = load_scenario(args.scenario)
    session = boto3.session.Session(region_name=scenario.region)
    if session.get_credentials() is None:  # an emulator takes any key; never ask for real ones
        session = boto3.session.Session(region_name=scenario.region, **EMULATOR_CREDENTIALS)
    aws = AwsClients(scenario.region, args.endpoint_url, session)
    run = replay(scenario, aws, settings)
    payload = eventbridge_event(run.alarm) if args.eventbridge else run.notification
    print(json.dumps(payload, indent=2))
    return 0


def _runbooks(args: argparse.Namespace, settings: Settings) -> int:
    books = search(load_runbooks(settings.runbooks_dir), " ".join(args.query))
    if not books:
        print("no runbook matches")
        return 1
    for book in books:
        print(f"{book.id:28} {book.severity:8} {book.category.value:26} {book.title}")
    return 0


def _serve(args: argparse.Namespace, settings: Settings) -> int:
    from prometheus_client import CollectorRegistry

    from bot.server.runtime import build, require
    from bot.server.scheduler import start_jobs

    if args.http:
        require(settings, "SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET")
    else:
        require(settings, "SLACK_BOT_TOKEN", "SLACK_APP_TOKEN")
    from bot.observe.telemetry import build_telemetry

    # HTTP mode shows the bot's OpenTelemetry metrics at /metrics, in the server's registry.
    registry = CollectorRegistry() if args.http else None
    ctx, app = build(settings, telemetry=build_telemetry(settings, prometheus=registry))
    sqs = ctx.runtime.aws.client("sqs") if settings.sqs_queue_url else None
    start_jobs(ctx.incidents, ctx.poster, sqs, settings.sqs_queue_url)
    if args.http:
        from bot.server.web import WebApp, make_server

        server = make_server(WebApp(app, ctx.incidents), args.host, args.port)
        print(f"llm-incident serving HTTP on {args.host}:{args.port}", file=sys.stderr)
        server.run()
        return 0
    from slack_bolt.adapter.socket_mode import SocketModeHandler

    assert settings.slack_app_token is not None  # noqa: S101 - checked by require()
    SocketModeHandler(app, settings.slack_app_token.get_secret_value()).start()
    return 0


def _db(args: argparse.Namespace, settings: Settings) -> int:
    from bot.store import database_url, redacted_url, schema

    url = database_url(settings.database_url, settings.data_dir)
    if args.action == "upgrade":
        schema.upgrade(url)
    found = schema.current(url)
    state = "up to date" if found == schema.head() else f"behind {schema.head()}"
    print(f"{redacted_url(url)}: revision {found or 'none'} ({state})")
    return 0


def _check_config(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.checks import run

    return run(settings, aws=args.aws)


def _check_alarm(args: argparse.Namespace, settings: Settings) -> int:
    from bot.cli.check_alarm import as_json, check_payload, render

    if args.file == "-":
        text = sys.stdin.buffer.read()
    else:
        try:
            text = Path(args.file).read_bytes()
        except OSError as exc:
            raise BadInputError(f"{args.file}: cannot read: {exc.strerror or exc}") from None
    found = check_payload(text, settings)
    if args.json:
        print(as_json(found))
    else:
        print("\n\n".join(render(one) for one in found))
    return 0


def _demo(args: argparse.Namespace, settings: Settings) -> int:
    _require_simulator("demo")
    from bot.sim.demo import play

    scenario = args.scenario or BUNDLED_SCENARIOS / DEMO_SCENARIO
    return play(scenario, settings, args.output)


def _store(settings: Settings) -> Store:
    from bot.store import Store, database_url
    from bot.store.schema import require_current

    url = database_url(settings.database_url, settings.data_dir)
    require_current(url)
    return Store(url)


def _stats(args: argparse.Namespace, settings: Settings) -> int:
    from datetime import UTC, datetime

    from bot.observe.stats import compute_stats, parse_since, render

    try:
        period = parse_since(args.since)
    except ValueError as exc:
        raise ConfigError(f"--since: {exc}") from None
    found = compute_stats(_store(settings), datetime.now(UTC) - period)
    if args.json:
        print(found.model_dump_json(indent=2))
    else:
        print(render(found, markdown=False))
    return 0


def _export_feedback(args: argparse.Namespace, settings: Settings) -> int:
    from bot.observe.feedback_export import export_feedback

    count = export_feedback(_store(settings), args.out)
    print(f"{count} rated analyses written to {args.out}", file=sys.stderr)
    return 0


def _stored_incident(
    settings: Settings, incident_id: int, region: str | None = None
) -> tuple[Store, AwsClients] | None:
    """The store, and AWS clients for the incident's region (its alarm's unless given);
    None, said on stderr, when there is no such incident."""
    from tools.aws import AwsClients

    store = _store(settings)
    incident = store.incidents.get(incident_id)
    if incident is None:
        print(f"llm-incident: no incident {incident_id}", file=sys.stderr)
        return None
    region = region or incident.alarm.get("region") or settings.aws_region
    return store, AwsClients(region, settings.aws_endpoint_url)


def _export_scenario(args: argparse.Namespace, settings: Settings) -> int:
    from bot.sim.export import ExportError, export_scenario, write_scenario
    from bot.sim.scenario import ScenarioError

    found = _stored_incident(settings, args.incident, args.region)
    if found is None:
        return 1
    store, aws = found
    try:
        data = export_scenario(store, args.incident, aws, load_catalog(settings.catalog), settings)
    except (ExportError, ScenarioError) as exc:
        print(f"llm-incident: {exc}", file=sys.stderr)
        return 1
    write_scenario(data, args.out)
    print(f"incident {args.incident} written to {args.out}", file=sys.stderr)
    return 0


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from bot.slack.report import make_report
    from bot.slack.threads import web_client

    found = _stored_incident(settings, args.incident)
    if found is None:
        return 1
    store, aws = found
    token = settings.slack_bot_token.get_secret_value() if settings.slack_bot_token else None
    client = web_client(token, settings.slack_api_url) if token else None
    report = make_report(store, args.incident, client=client, aws=aws)
    assert report is not None  # noqa: S101 - the incident was just read
    for note in report.notes:
        print(f"report: {note}", file=sys.stderr)
    if not args.out:
        print(report.markdown, end="")
        return 0
    args.out.write_text(report.markdown, encoding="utf-8")
    if report.chart_png:
        (args.out.parent / report.chart_name).write_bytes(report.chart_png)
    print(f"incident {args.incident} report written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
