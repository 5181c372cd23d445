from datetime import timedelta

from tests.conftest import T0
from tools.base import TimeRange
from tools.logs import (
    LogsTool,
    cluster,
    display,
    failure_markers,
    insights_supported,
    lambda_reports,
)

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
    assert failure_markers("Task timed out after 30.03 seconds") == ["Task timed out", "timed out"]
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
