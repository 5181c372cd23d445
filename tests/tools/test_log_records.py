"""Lambda log lines in both formats, read as AWS writes them.

The fixtures are written here in the shapes of the real lines in
`../shared/realdata/lambda_and_invocation_logs.md` (Powertools records, the Lambda JSON
log format, REPORT lines with tabs and a trailing tab, `signal: killed`, timeouts); the
last test reads the real export when it is there.
"""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.conftest import T0
from tools.base import TimeRange
from tools.logs import lambda_reports, parse_report
from tools.logs.records import cluster_form, display, failure_markers, level_of
from tools.logs.sample import is_failure

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"
REQUEST = "4c1d2e3f-5a6b-4c7d-8e9f-0a1b2c3d4e5f"
STACK = "\n".join(
    f"    at frame{i} (/var/runtime/node_modules/@aws-sdk/client-bedrock-agent-runtime/"
    f"dist-cjs/index.js:{3400 + i}:21)"
    for i in range(40)
)
POWERTOOLS_NODE = json.dumps(
    {
        "level": "ERROR",
        "message": "Error processing agent stream",
        "timestamp": "2026-11-20T11:50:01.441Z",
        "service": "summarizer",
        "cold_start": False,
        "function_arn": "arn:aws:lambda:us-east-1:111122223333:function:summarizer-api",
        "function_memory_size": "512",
        "function_name": "summarizer-api",
        "function_request_id": REQUEST,
        "sampling_rate": 0,
        "xray_trace_id": "1-6744a6c0-52a0752f44658e0f7314fd12",
        "error": {
            "name": "DependencyFailedException",
            "location": "/var/runtime/node_modules/index.js:3490",
            "message": "Dependency resource: received model timeout/error exception from "
            "Bedrock. Try the request again.",
            "stack": "DependencyFailedException: Dependency resource: received model "
            "timeout/error exception from Bedrock.\n" + STACK,
            "$fault": "client",
            "$metadata": {},
        },
    }
)
POWERTOOLS_PYTHON = json.dumps(
    {
        "level": "ERROR",
        "location": "handler:88",
        "message": "could not build the prompt",
        "timestamp": "2026-11-20 11:50:02,120+0000",
        "service": "summarizer",
        "exception": 'Traceback (most recent call last):\n  File "/var/task/handler.py", '
        'line 88, in handler\n    text = reply["content"][0]["text"]\nKeyError: \'content\'',
        "exception_name": "KeyError",
        "xray_trace_id": "1-6744a6c0-52a0752f44658e0f7314fd12",
    }
)
JSON_APP = (
    '{"timestamp":"2026-11-20T11:50:03.862Z","level":"INFO","requestId":"'
    + REQUEST
    + '","message":"Sending Bedrock Converse Stream request"}'
)
JSON_REPORT = (
    '{"time":"2026-11-20T11:50:04.070Z","type":"platform.report","record":{"requestId":"'
    + REQUEST
    + '","metrics":{"durationMs":1233.96,"billedDurationMs":1234,"memorySizeMB":256,'
    '"maxMemoryUsedMB":123,"initDurationMs":463.512},"status":"success"}}'
)
JSON_TIMEOUT = (
    '{"time":"2026-11-20T11:50:05.581Z","type":"platform.report","record":{"requestId":"'
    + REQUEST
    + '","metrics":{"durationMs":30000.0,"billedDurationMs":30000,"memorySizeMB":512,'
    '"maxMemoryUsedMB":94},"status":"timeout"}}'
)
TEXT_REPORT = (
    f"REPORT RequestId: {REQUEST}\tDuration: 5262.18 ms\tBilled Duration: 5263 ms\t"
    "Memory Size: 128 MB\tMax Memory Used: 128 MB\tInit Duration: 380.85 ms\t\n"
)
SPACED_REPORT = (
    f"REPORT RequestId: {REQUEST}  Duration: 631.51 ms     Billed Duration: 700 ms  "
    "       Memory Size: 256 MB     Max Memory Used: 18 MB"
)
KILLED = f"RequestId: {REQUEST} Error: Runtime exited with error: signal: killed Runtime.ExitError"
OUT_OF_MEMORY = (
    '{"errorType":"Runtime.OutOfMemory","errorMessage":"RequestId: ' + REQUEST + " Error: "
    'Runtime exited with error: signal: killed"}'
)
TIMED_OUT = f"2026-11-20T11:50:06.962Z {REQUEST} Task timed out after 30.03 seconds"
IMPORT_ERROR = (
    "{\"errorMessage\": \"Unable to import module 'handler': No module named 'tiktoken'\", "
    '"errorType": "Runtime.ImportModuleError", "requestId": "", "stackTrace": []}'
)


def test_a_powertools_record_is_clustered_on_its_error_not_its_stack():
    form = cluster_form(POWERTOOLS_NODE)
    assert "DependencyFailedException" in form and "received model timeout" in form
    assert "frame39" not in form and "function_arn" not in form
    assert level_of(POWERTOOLS_NODE) == "ERROR"
    assert "DependencyFailedException" in failure_markers(POWERTOOLS_NODE)
    shown = display(POWERTOOLS_NODE)
    assert "DependencyFailedException" in shown and "frame3" not in shown


def test_a_python_powertools_record_keeps_the_exception_line():
    assert "KeyError: 'content'" in cluster_form(POWERTOOLS_PYTHON)
    assert "KeyError" in failure_markers(POWERTOOLS_PYTHON)


def test_a_long_traceback_keeps_the_exception_it_ends_with():
    """A line cut at a fixed length before reading it lost the exception: no more."""
    frames = "\n".join(f'  File "/var/task/lib/mod{i}.py", line {i}, in f{i}' for i in range(60))
    line = f"[ERROR]\t2026-11-20T11:50:07.000Z\t{REQUEST}\tTraceback (most recent call last):\n"
    line += frames + "\nKeyError: 'question_text'"
    assert len(line) > 2000
    assert "KeyError" in failure_markers(line)
    assert cluster_form(line).endswith("KeyError: 'question_text'")


def test_lambda_runtime_deaths_are_named_for_what_they_are():
    assert any("out of memory" in m for m in failure_markers(KILLED))
    assert any("out of memory" in m for m in failure_markers(OUT_OF_MEMORY))
    assert "Task timed out after 30.03 seconds" in failure_markers(TIMED_OUT)
    assert any(m.startswith("Task timed out") for m in failure_markers(JSON_TIMEOUT))
    assert "Runtime.ImportModuleError" in failure_markers(IMPORT_ERROR)
    assert level_of(JSON_TIMEOUT) == "ERROR" and level_of(JSON_REPORT) == "INFO"
    assert all(is_failure(line) for line in (KILLED, OUT_OF_MEMORY, TIMED_OUT, JSON_TIMEOUT))
    assert not is_failure(JSON_REPORT) and not is_failure(JSON_APP)


def test_report_fields_are_numbers_in_both_formats():
    text = parse_report(TEXT_REPORT)
    assert text is not None
    assert (text.duration_ms, text.billed_ms, text.memory_size_mb) == (5262.18, 5263, 128)
    assert (text.max_memory_mb, text.init_ms) == (128, 380.85)
    spaced = parse_report(SPACED_REPORT)
    assert spaced is not None and spaced.max_memory_mb == 18 and spaced.init_ms is None
    structured = parse_report(JSON_REPORT)
    assert structured is not None
    assert (structured.memory_size_mb, structured.max_memory_mb) == (256, 123)
    assert structured.init_ms == 463.512 and structured.status == "success"
    timeout = parse_report(JSON_TIMEOUT)
    assert timeout is not None and timeout.status == "timeout"
    assert parse_report(JSON_APP) is None and parse_report("REPORT nothing here") is None


def test_reports_of_both_formats_say_memory_cold_starts_and_timeouts():
    window = TimeRange(
        start=T0 - timedelta(minutes=60), end=T0 + timedelta(minutes=5), onset=T0, t0=T0
    )
    before = int((T0 - timedelta(minutes=30)).timestamp() * 1000)
    after = int((T0 + timedelta(minutes=2)).timestamp() * 1000)
    events = [(before, JSON_REPORT, 10.0), (after, TEXT_REPORT, 2.0), (after, JSON_TIMEOUT, 2.0)]
    found = lambda_reports(events, "/aws/lambda/summarizer-api", window)
    assert found is not None
    assert found.invocations == {False: 10.0, True: 4.0}  # weighted by what a line stands for
    assert found.memory_full[True] == 2.0 and found.cold == {False: 10.0, True: 2.0}
    assert found.timeouts[True] == 2.0
    assert "status timeout 0% -> 50%" in found.line()


@given(st.text(max_size=300))
def test_reading_any_line_never_fails(line):
    for reader in (cluster_form, level_of, failure_markers, display, parse_report):
        reader(line)
    reader_input = "{" + line + "}"
    cluster_form(reader_input)
    parse_report('{"type":"platform.report","record":' + line + "}")


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
        max_leaves=12,
    )
)
def test_reading_any_json_record_never_fails(value):
    line = json.dumps({"level": value, "record": value, "error": value, "message": value})
    cluster_form(line)
    level_of(line)
    failure_markers(line)


@pytest.mark.skipif(not REALDATA.exists(), reason="../shared/realdata is not here")
def test_the_real_claude_invoker_export_is_read():
    """The real Node.js Lambda export (UTF-8 BOM, INIT_START, REPORT with Init Duration)."""
    raw = (REALDATA / "logs_raw" / "zainzia_claudeInvoker_lambda_logs_export.json").read_text(
        encoding="utf-8-sig"
    )
    events = json.loads(raw)["events"]
    reports = [parse_report(e["@message"]) for e in events if "REPORT" in e["@message"]]
    assert reports and all(r is not None for r in reports)
    assert any(r.init_ms for r in reports if r) and all(
        r.memory_size_mb == 1024 for r in reports if r
    )
    levels = {level_of(e["@message"]) for e in events}
    assert "INFO" in levels
