"""One incident at production volume: does the answer hold, in time and in memory?

A bad deployment (a `KeyError` at 36 lines a minute from 14 minutes before the alarm,
one minute after `UpdateFunctionCode` and `UpdateAlias` on the service's function) is
seeded with its log group grown to N lines over the 95-minute window, T Lambda-shaped
X-Ray traces, and 1,000 CloudTrail write events (998 routine writes by other teams
around the causal two). AWS is moto behind the loopback fakes of what moto lacks
(`bot.sim.fakes.router`: Logs Insights, X-Ray filter expressions and sampling,
CloudTrail LookupEvents at two calls a second), in a process of its own. Each size is
investigated offline in a fresh process, which reports its wall time and peak RSS.

Prints per size: correct top-1, expected evidence present, wall time, peak RSS, AWS calls
by API, and what the evidence says it sampled.

    python bench/scale.py [--sizes 5000:2000,50000:20000,250000:20000,1000000:100000]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

WINDOW_MINUTES = 95  # -90m .. +5m: the investigation's lookback and what follows T0
FUNCTION = "answers-api"
MODEL = "anthropic.claude-3-5-haiku-20241022-v1:0"
EXPECTED = {"category": "bad_deployment", "evidence": ["KeyError", "UpdateFunctionCode"]}


def scenario(log_lines: int, traces: int, changes: int = 1000) -> dict[str, Any]:
    """The incident, with its log group holding about `log_lines` lines over the window."""
    # The errors (36/min for 19 minutes) and a steady warning (2/min) are fixed; the rest
    # is invocations, five lines each (START, two application lines, END, REPORT).
    per_minute = (log_lines - 36 * 19 - 2 * WINDOW_MINUTES) / WINDOW_MINUTES
    invocations = max(per_minute / 5, 1)
    rate = f"{invocations:.3f}/m"
    routine = [
        {
            "at": f"-{5 + (i * 1430) // changes}m",
            "event_source": "lambda.amazonaws.com" if i % 3 else "iam.amazonaws.com",
            "event_name": "UpdateFunctionCode20150331v2" if i % 3 else "PutRolePolicy",
            "resource": f"reporting-api-{i}" if i % 3 else f"reporting-role-{i}",
            "user": "arn:aws:sts::111122223333:assumed-role/deploy/other-team",
            "request": {"functionName": f"reporting-api-{i}"}
            if i % 3
            else {"roleName": f"reporting-role-{i}"},
        }
        for i in range(changes - 2)
    ]
    deploy = "arn:aws:sts::111122223333:assumed-role/deploy/github-actions"
    return {
        "version": 1,
        "id": "scale-bad-deployment",
        "seed": 14,
        "region": "us-east-1",
        "account": "111122223333",
        "window": {"start": "-90m", "tail": "5m"},
        "service": {
            "name": "answers",
            "lambda_functions": [FUNCTION],
            "log_groups": [f"/aws/lambda/{FUNCTION}"],
            "xray_service_names": [FUNCTION],
            "bedrock": {"model_ids": [MODEL]},
            "dependencies": ["dynamodb:answers-sessions"],
        },
        "alarm": {
            "name": "answers-api-errors",
            "namespace": "AWS/Lambda",
            "metric": "Errors",
            "dimensions": {"FunctionName": FUNCTION},
            "statistic": "Sum",
            "period": 60,
            "evaluation_periods": 3,
            "threshold": 5,
            "comparison": "GreaterThanThreshold",
        },
        "metrics": [
            _metric("AWS/Lambda", "Invocations", {"FunctionName": FUNCTION}, invocations),
            {
                **_metric("AWS/Lambda", "Errors", {"FunctionName": FUNCTION}, 0),
                "segments": [{"to": "-14m", "value": 0}, {"from": "-14m", "value": 36}],
            },
            _metric("AWS/Lambda", "Duration", {"FunctionName": FUNCTION}, 1800, "Milliseconds"),
            _metric("AWS/Bedrock", "Invocations", {"ModelId": MODEL}, invocations),
        ],
        "logs": [
            {
                "group": f"/aws/lambda/{FUNCTION}",
                "patterns": [
                    {"template": "START RequestId: {uuid} Version: 41", "rate": rate, "to": "-15m"},
                    {
                        "template": "START RequestId: {uuid} Version: 42",
                        "rate": rate,
                        "from": "-15m",
                    },
                    {
                        "template": "[INFO] {ts} {uuid} model call ok latency_ms={int:600-2400} "
                        "tokens={int:300-900}",
                        "rate": rate,
                    },
                    {
                        "template": "[INFO] {ts} {uuid} session loaded key=s-{hex:12}",
                        "rate": rate,
                    },
                    {"template": "END RequestId: {uuid}", "rate": rate},
                    {
                        "template": "REPORT RequestId: {uuid}\tDuration: {float:900-2600} ms\t"
                        "Billed Duration: {int:900-2600} ms\tMemory Size: 1024 MB\t"
                        "Max Memory Used: {int:180-260} MB\t",
                        "rate": rate,
                    },
                    {
                        "template": "[ERROR] {ts} {uuid} Traceback (most recent call last): "
                        'File "/var/task/answers/handler.py", line 88, in answer; '
                        "text = reply['content'][0]['text']; KeyError: 'content'",
                        "rate": "36/m",
                        "from": "-14m",
                    },
                    {
                        "template": "[WARNING] {ts} {uuid} slow DynamoDB read on "
                        "answers-sessions: {int:120-300} ms",
                        "rate": "2/m",
                    },
                ],
            }
        ],
        "traces": [
            {
                "name": "answer",
                "rate": f"{traces / WINDOW_MINUTES:.3f}/m",
                "lambda": {"cold_start": 0.01, "init": "600ms"},
                "root": {"service": FUNCTION, "name": "POST /answer", "duration": "1800ms"},
                "spans": [
                    {
                        "name": "GetItem",
                        "service": "DynamoDB",
                        "namespace": "aws",
                        "duration": "9ms",
                    },
                    {
                        "name": "InvokeModel",
                        "service": "bedrock-runtime",
                        "namespace": "aws",
                        "duration": "1500ms",
                        "jitter": 0.2,
                    },
                ],
                "phases": [
                    {
                        "from": "-14m",
                        "root": {
                            "fault": 0.3,
                            "http_status": 502,
                            "message": "KeyError: 'content'",
                        },
                    }
                ],
            }
        ],
        "changes": [
            *routine,
            {
                "at": "-15m",
                "event_source": "lambda.amazonaws.com",
                "event_name": "UpdateFunctionCode20150331v2",
                "resource": FUNCTION,
                "user": deploy,
                "request": {"functionName": FUNCTION, "publish": True},
            },
            {
                "at": "-15m",
                "event_source": "lambda.amazonaws.com",
                "event_name": "UpdateAlias20150331",
                "resource": FUNCTION,
                "user": deploy,
                "request": {"functionName": FUNCTION, "name": "live", "functionVersion": "42"},
            },
        ],
        "expected": EXPECTED,
    }


def _metric(namespace, name, dims, value, unit="Count") -> dict[str, Any]:
    return {
        "namespace": namespace,
        "name": name,
        "dimensions": dims,
        "unit": unit,
        "segments": [{"value": value, "jitter": 0.05}],
    }


def _aws_side(pipe: Connection, changes: list[dict[str, Any]]) -> None:
    """moto, and in front of it the fakes of what moto lacks, until told to stop."""
    from bot.sim.emulator import running_emulator
    from bot.sim.fakes.cloudtrail import fake_cloudtrail
    from bot.sim.fakes.http import serve
    from bot.sim.fakes.logs import FakeLogs
    from bot.sim.fakes.router import aws_router
    from bot.sim.fakes.xray import FakeXRay

    calls: Counter[str] = Counter()
    trail_calls: list[dict[str, Any]] = []
    logs, xray = FakeLogs(query_seconds=0.5), FakeXRay(page_size=100)
    trail = fake_cloudtrail(changes, trail_calls)
    with (
        running_emulator() as moto,
        serve(aws_router(moto, logs.handler, xray.handler, trail, calls)) as url,
    ):
        pipe.send(url)
        while (message := pipe.recv()) != "stop":
            if message == "calls":
                pipe.send(dict(calls))
                calls.clear()


def _peak_rss_mb() -> float:
    """This process's peak resident memory since it was exec'd (`VmHWM`): not
    `ru_maxrss`, which on Linux keeps the peak of the parent the process was forked from."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _investigate(
    pipe: Connection, url: str, region: str, payload: dict[str, Any], code: str | None
) -> None:
    """A fresh process: one offline investigation, its wall time and its peak RSS. With
    `code`, the investigation runs another checkout of the project (a before/after)."""
    if code:
        sys.path.insert(0, code)
    from bot.config import BUNDLED_RUNBOOKS
    from bot.engine.investigate import investigate
    from bot.engine.runbooks import load_runbooks
    from bot.models import Alarm, ServiceEntry
    from bot.sim.emulator import emulator_session
    from tools.aws import AwsClients

    aws = AwsClients(region, url, emulator_session(region))
    alarm = Alarm.model_validate(payload["alarm"])
    service = ServiceEntry.model_validate(payload["service"])
    books = load_runbooks(BUNDLED_RUNBOOKS)
    began = time.monotonic()
    found, bundle = investigate(
        aws, alarm, service, books, now=datetime.fromisoformat(payload["now"])
    )
    wall = time.monotonic() - began
    peak_mb = _peak_rss_mb()
    pipe.send(
        {
            "top": found.hypotheses[0].category.value,
            "confidence": found.hypotheses[0].confidence,
            "evidence": found.hypotheses[0].evidence,
            "wall": wall,
            "rss": peak_mb,
            "sampling": getattr(bundle, "sampling", []),
            "missing": found.missing,
        }
    )


def run_size(log_lines: int, traces: int, context, code: str | None = None) -> dict[str, Any]:
    from bot.sim.expand import anchor_t0, expand
    from bot.sim.scenario import parse_scenario

    data = scenario(log_lines, traces)
    parsed = parse_scenario(data, "bench/scale")
    began = time.monotonic()
    telemetry = expand(parsed, anchor_t0(parsed))
    expanded = time.monotonic() - began
    ours, theirs = context.Pipe()
    aws_side = context.Process(target=_aws_side, args=(theirs, telemetry.changes), daemon=True)
    aws_side.start()
    url = ours.recv()
    try:
        result = _seed_and_investigate(url, ours, telemetry, parsed, context, code)
    finally:
        ours.send("stop")
        aws_side.join(timeout=30)
        if aws_side.is_alive():
            aws_side.terminate()
    lines = sum(len(stream.events) for stream in telemetry.logs)
    result.update(
        {
            "lines": lines,
            "traces": traces,
            "expanded": expanded,
        }
    )
    return result


def _seed_and_investigate(url, ours, telemetry, parsed, context, code) -> dict[str, Any]:
    from bot.engine.catalog import Catalog
    from bot.ingest.alarms import parse_alarm_payload
    from bot.sim.emulator import emulator_session
    from bot.sim.payloads import sns_notification
    from bot.sim.seeding import put_events, seed_alarm, seed_metrics, seed_traces
    from tools.aws import AwsClients

    aws = AwsClients(parsed.region, url, emulator_session(parsed.region))
    began = time.monotonic()
    seed_metrics(aws, telemetry)
    seed_alarm(aws, telemetry.alarm)
    logs_began = time.monotonic()
    for stream in telemetry.logs:
        put_events(aws, stream.group, stream.stream, stream.events)
    log_seconds = time.monotonic() - logs_began
    seed_traces(aws, telemetry)
    seeded = time.monotonic() - began
    ours.send("calls")
    ours.recv()  # forget the seeding's calls
    alarm = parse_alarm_payload(json.dumps(sns_notification(telemetry.alarm))).alarm
    service = Catalog(services=[parsed.service]).resolve(alarm)
    payload = {
        "alarm": alarm.model_dump(mode="json"),
        "service": service.model_dump(mode="json") if service else None,
        "now": telemetry.end.isoformat(),
    }
    mine, child_end = context.Pipe()
    child = context.Process(
        target=_investigate, args=(child_end, url, parsed.region, payload, code)
    )
    child.start()
    found = mine.recv()
    child.join()
    ours.send("calls")
    found["calls"] = ours.recv()
    found["seeded"] = seeded
    found["log_seed_seconds"] = log_seconds
    return found


def report(found: dict[str, Any]) -> None:
    top1 = found["top"] == EXPECTED["category"]
    text = " ".join(found["evidence"]).lower()
    hits = [e for e in EXPECTED["evidence"] if e.lower() in text]
    calls = ", ".join(f"{name} {count}" for name, count in sorted(found["calls"].items()))
    print(
        f"{found['lines']:>9,} log lines, {found['traces']:>7,} traces: "
        f"top-1 {'ok' if top1 else 'WRONG'} ({found['top']} {found['confidence']:.2f}), "
        f"evidence {len(hits)}/{len(EXPECTED['evidence'])} {hits}, "
        f"wall {found['wall']:.1f}s, peak RSS {found['rss']:.0f} MB "
        f"(expanded in {found['expanded']:.0f}s, seeded in {found['seeded']:.0f}s, of which "
        f"{found['lines']:,} log lines in {found['log_seed_seconds']:.0f}s)",
        flush=True,
    )
    print(f"    AWS calls by API: {calls}")
    for line in found["sampling"]:
        print(f"    sampled: {line}")
    for line in found["missing"]:
        print(f"    missing: {line}")
    for line in found["evidence"][:4]:
        print(f"    evidence: {line[:160]}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--sizes",
        default="5000:2000,50000:20000,250000:20000,1000000:100000",
        help="log lines:traces per run, comma-separated",
    )
    parser.add_argument(
        "--code", help="investigate with another checkout of the project (before/after)"
    )
    args = parser.parse_args(argv)
    context = multiprocessing.get_context("spawn")
    print(
        f"bench/scale.py at {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: one bad deployment, "
        "1,000 CloudTrail writes, investigated offline (no LLM) in a fresh process each"
    )
    for size in args.sizes.split(","):
        lines, _, traces = size.partition(":")
        report(run_size(int(lines), int(traces or 20000), context, args.code))
    return 0


if __name__ == "__main__":
    sys.exit(main())
