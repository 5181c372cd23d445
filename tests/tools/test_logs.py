from datetime import timedelta

import pytest

from bot.sim.emulator import emulator_session
from bot.sim.expand import LogEvent
from bot.sim.fakes.http import serve
from bot.sim.fakes.logs import FakeLogs
from bot.sim.seeding import put_events
from tests.conftest import T0
from tools.aws import AwsClients
from tools.base import TimeRange, ToolError
from tools.logs import (
    LogsTool,
    cluster,
    display,
    failure_markers,
    insights_supported,
    lambda_reports,
)
from tools.logs.sample import FILTER_PATTERN, fmt_count

WINDOW = TimeRange(
    start=T0 - timedelta(minutes=60),
    end=T0 + timedelta(minutes=5),
    onset=T0 - timedelta(minutes=10),
    t0=T0,
)


def ms(minutes: float) -> int:
    return int((T0 + timedelta(minutes=minutes)).timestamp() * 1000)


def lines():
    events = []
    for minute in range(-60, 5):
        events.append(
            (
                ms(minute),
                f"[INFO] 2026-11-20T11:{minute % 60:02d}:00Z req-{minute + 100} quote ok "
                f"latency_ms={500 + minute}",
            )
        )
        if minute < -10:
            events.append((ms(minute + 0.5), f"[INFO] cache refreshed entries={minute + 900}"))
        if minute >= -10:
            for n in range(5):
                events.append(
                    (
                        ms(minute + 0.1 * n),
                        f"[ERROR] req-{n} KeyError: 'completion' in handler line {88}",
                    )
                )
        if minute % 20 == 0 or minute >= -10:
            events.append((ms(minute + 0.2), f"[WARN] slow S3 read {minute + 1200} ms"))
    return sorted(events)


def test_new_grown_and_gone_patterns_are_found():
    patterns = cluster(lines(), "/aws/lambda/q", WINDOW)
    by_status = {p.status: p for p in patterns}
    new = by_status["new"]
    assert new.level == "ERROR" and new.recent == 75 and new.baseline == 0
    assert "KeyError" in new.markers
    assert new.first_seen == T0 - timedelta(minutes=10)
    assert by_status["gone"].sample.startswith("[INFO] cache refreshed")
    assert by_status["grown"].sample.startswith("[WARN] slow S3 read")
    assert by_status["steady"].sample.startswith("[INFO]")


def test_failure_markers_name_exceptions_and_known_phrases():
    assert failure_markers("Task timed out after 30.03 seconds") == [
        "Task timed out after 30.03 seconds"
    ]
    # Everyday text that shares a word with a failure phrase is not one.
    assert failure_markers("INFO request took too long to render; retried zoom link") == []
    assert "ThrottlingException" in failure_markers(
        "An error occurred (ThrottlingException) when calling"
    )


def test_logs_tool_reads_filter_log_events_on_an_emulator(aws):
    client = aws.client("logs")
    client.create_log_group(logGroupName="/aws/lambda/q")
    client.create_log_stream(logGroupName="/aws/lambda/q", logStreamName="s")
    client.put_log_events(
        logGroupName="/aws/lambda/q",
        logStreamName="s",
        logEvents=[{"timestamp": t, "message": m} for t, m in lines()],
    )
    assert not insights_supported(aws, "/aws/lambda/q", WINDOW)  # moto ignores `stats`
    result = LogsTool(aws)(
        {
            "log_groups": ["/aws/lambda/q", "/aws/lambda/absent"],
            "start": WINDOW.start,
            "end": WINDOW.end,
            "onset": WINDOW.onset,
            "t0": T0,
        }
    )
    assert result.data["path"] == "filter"
    assert "NEW ERROR x75" in result.text and "KeyError: 'completion'" in result.text
    assert "first seen T0-10m" in result.text
    assert any("/aws/lambda/absent" in note for note in result.notes)


def test_lambda_report_lines_show_memory_and_cold_starts():
    report = "REPORT RequestId: {}\tDuration: {} ms\tBilled Duration: 1 ms\tMemory Size: 1024 MB\t"
    events = [(ms(-30), report.format("a", 800) + "Max Memory Used: 400 MB")]
    events += [
        (ms(-5), report.format("b", 9000) + "Max Memory Used: 1024 MB\tInit Duration: 812.5 ms")
    ] * 3
    found = lambda_reports(events, "/aws/lambda/q", WINDOW)
    assert found.invocations == {False: 1, True: 3}
    assert found.memory_full == {False: 0, True: 3} and found.cold == {False: 0, True: 3}
    assert "Max Memory Used 400 -> 1024 MB of Memory Size 1024 MB" in found.line()
    assert lambda_reports([(ms(-5), "[INFO] no reports here")], "g", WINDOW) is None


def test_samples_drop_times_ids_and_json_envelope_keys():
    assert display(
        "[ERROR] 2026-11-23T07:14:02.403Z 9b0b4b19-519a-48c0-85f6-14c6ebead30e boom"
    ) == ("[ERROR] boom")
    assert display('{"ts":"x","requestId":"y","msg":"0 results"}') == '{"msg":"0 results"}'


# -- Logs Insights and busy groups, through the fake Logs endpoint ----------------------

BUSY_WINDOW = TimeRange(
    start=T0 - timedelta(minutes=90),
    end=T0 + timedelta(minutes=5),
    onset=T0 - timedelta(minutes=14),
    t0=T0,
)
GROUP = "/aws/lambda/answers-api"
REQUEST_ID = "2026-11-20T11:47:03.512Z 9b0b4b19-519a-48c0-85f6-14c6ebead30e"
KEY_ERROR = (
    "[ERROR] 2026-11-20T11:47:03.512Z 9b0b4b19-519a-48c0-85f6-14c6ebead30e KeyError: 'content' "
    "in build_prompt (handler.py line 88)"
)


@pytest.fixture
def fake_logs():
    fake = FakeLogs()
    with serve(fake.handler) as url:
        yield fake, AwsClients("us-east-1", url, emulator_session("us-east-1"))


def busy_group(aws, per_minute: int = 1200) -> int:
    """A group as busy as a real one: healthy lines all along, and 36 KeyErrors a minute
    from 14 minutes before T0 (the incident the volume used to hide)."""
    events = []
    for second in range(-90 * 60, 5 * 60):
        at = int((T0 + timedelta(seconds=second)).timestamp() * 1000)
        for n in range(per_minute // 60):
            kind = ("model call ok latency_ms=", "session loaded rows=")[n % 2]
            events.append(LogEvent(at + n, f"[INFO] {REQUEST_ID} {kind}{(second * 7 + n) % 997}"))
        if second >= -14 * 60 and second % 5 < 3:
            events.append(LogEvent(at + 900, KEY_ERROR))
    put_events(aws, GROUP, "2026/11/20/[$LATEST]0f1e2d3c", events)
    return sum(1 for e in events if e.message == KEY_ERROR), len(events)


def run_logs(aws, **extra):
    return LogsTool(aws)(
        {
            "log_groups": [GROUP],
            "start": BUSY_WINDOW.start,
            "end": BUSY_WINDOW.end,
            "onset": BUSY_WINDOW.onset,
            "t0": T0,
            **extra,
        }
    )


def test_insights_reads_a_small_group_whole(fake_logs):
    fake, aws = fake_logs
    put_events(aws, GROUP, "s", [LogEvent(t, m) for t, m in lines()])
    result = LogsTool(aws)(
        {"log_groups": [GROUP], "start": WINDOW.start, "end": WINDOW.end, "onset": WINDOW.onset}
    )
    assert result.data["path"] == "insights"
    assert "NEW ERROR x75" in result.text
    [read] = result.data["sampling"]
    assert read == f"{GROUP}: all {len(lines())} lines in the window read (Logs Insights)"
    queries = [c["queryString"] for c in fake.calls if c["operation"] == "StartQuery"]
    assert "stats count(*) as lines by bin(1m) as minute" in queries


def test_a_busy_group_is_counted_on_the_server_and_read_on_both_sides(fake_logs):
    fake, aws = fake_logs
    errors, total = busy_group(aws)
    result = run_logs(aws)
    patterns = result.data["patterns"]
    [key_error] = [p for p in patterns if "KeyError" in p.sample]
    # Every error-level line is read: the count and the first-seen time are exact.
    assert key_error.status == "new" and key_error.recent == errors and not key_error.estimated
    assert "first seen T0-14m" in key_error.line(BUSY_WINDOW)
    # The healthy lines are sampled from both sides of the onset: they stay steady (at
    # volume they used to show as "gone" when only the oldest lines were read).
    healthy = [p for p in patterns if "model call ok" in p.sample]
    assert healthy and all(p.status == "steady" and p.estimated for p in healthy)
    before, after = healthy[0].rates(BUSY_WINDOW)
    assert 540 <= before <= 660 and 540 <= after <= 660
    [read] = result.data["sampling"]
    assert read.startswith(f"{GROUP}: sampled ") and f"of {fmt_count(total)} lines" in read
    assert f"all {errors} error-level lines" in read and "are exact" in read
    assert f"- read: {read}" in result.text
    queries = [c["queryString"] for c in fake.calls if c["operation"] == "StartQuery"]
    assert any("sort @timestamp desc" in q for q in queries)
    assert any("sort @timestamp asc" in q for q in queries)
    assert not any(c["operation"] == "FilterLogEvents" for c in fake.calls)


def test_queries_wait_out_the_accounts_concurrency_limit(fake_logs):
    fake, aws = fake_logs
    fake.max_concurrent, fake.query_seconds = 1, 0.1
    busy_group(aws, per_minute=120)
    result = run_logs(aws)
    started = [c for c in fake.calls if c["operation"] == "StartQuery"]
    assert len(started) > len(fake.queries)  # some were refused with LimitExceededException
    assert all(q.status == "Complete" for q in fake.queries.values())
    assert any("KeyError" in p.sample and p.status == "new" for p in result.data["patterns"])


def test_a_query_given_up_on_is_stopped(fake_logs):
    fake, aws = fake_logs
    busy_group(aws, per_minute=60)
    aws.capabilities["logs_insights"] = True
    fake.query_seconds = 30  # Logs Insights is slower than the deadline
    with pytest.raises(ToolError, match="did not complete in time"):
        run_logs(aws, timeout_s=2)
    stopped = {c["queryId"] for c in fake.calls if c["operation"] == "StopQuery"}
    assert stopped and stopped == set(fake.queries)
    assert all(q.status == "Cancelled" for q in fake.queries.values())


def test_without_insights_each_side_is_read_with_an_error_filter_first(fake_logs):
    fake, aws = fake_logs
    errors, _ = busy_group(aws)
    aws.capabilities["logs_insights"] = False
    result = run_logs(aws)
    filters = [c for c in fake.calls if c["operation"] == "FilterLogEvents"]
    assert any(c.get("filterPattern") == FILTER_PATTERN for c in filters)
    [key_error] = [p for p in result.data["patterns"] if "KeyError" in p.sample]
    assert key_error.status == "new" and key_error.recent == errors
    assert not [p for p in result.data["patterns"] if p.status == "gone"]
    [read] = result.data["sampling"]
    assert "FilterLogEvents" in read and "estimated from the lines' density" in read


def test_a_value_the_template_masks_is_shown_when_it_takes_over():
    """A knowledge-base search logged at the same rate all along, whose result count went
    to zero at the onset: the template masks the count as a number, the line keeps it."""
    events = [
        (
            ms(minute),
            f"[INFO] 2026-11-20T11:{minute % 60:02d}:00Z kb search done "
            f"numberOfResults={0 if minute >= -10 else 3 + minute % 4} "
            f"latency_ms={40 + minute % 7}",
        )
        for minute in range(-60, 5)
    ]
    (search,) = cluster(events, "/aws/lambda/q", WINDOW)
    assert search.status == "steady"
    assert search.shifts == ["numberOfResults=0 0% -> 100% of lines"]
    assert "values since onset: numberOfResults=0 0% -> 100% of lines" in search.line(WINDOW)
    steady = cluster(lines(), "/aws/lambda/q", WINDOW)
    assert not any(p.shifts for p in steady if p.sample.startswith("[INFO] 2026"))
