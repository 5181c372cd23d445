import json
from datetime import timedelta

from bot.sim.expand import expand
from bot.sim.scenario import parse_scenario
from tests.conftest import T0
from tests.factories import FUNCTION, base_scenario


def test_same_seed_and_t0_expand_identically():
    scenario = parse_scenario(base_scenario(), "x")
    first, second = expand(scenario, T0), expand(scenario, T0)
    assert first.metrics == second.metrics
    assert first.logs == second.logs
    assert first.trace_documents == second.trace_documents


def test_another_seed_gives_other_noise():
    one = expand(parse_scenario(base_scenario(), "x"), T0)
    other = expand(parse_scenario(base_scenario(seed=4), "x"), T0)
    assert one.logs[0].events != other.logs[0].events


def test_later_segments_win_and_counts_are_whole():
    data = base_scenario()
    data["metrics"][1]["segments"] = [
        {"value": 0},
        {"from": "-10m", "to": "-5m", "value": 7.6, "jitter": 0.2},
    ]
    series = expand(parse_scenario(data, "x"), T0).metrics[1]
    values = {at - T0: v for at, v in series.points}
    assert values[timedelta(minutes=-11)] == 0
    assert all(5 <= values[timedelta(minutes=m)] <= 10 for m in range(-10, -5))
    assert all(v == int(v) for v in values.values())
    assert values[timedelta(minutes=-5)] == 0
    assert len(series.points) == 65  # -60m .. +5m, one per minute


def test_ramp_moves_from_previous_value():
    data = base_scenario()
    data["metrics"][1]["segments"] = [
        {"to": "-10m", "value": 10},
        {"from": "-10m", "value": 110, "ramp": True},
    ]
    series = expand(parse_scenario(data, "x"), T0).metrics[1]
    ramp = [v for at, v in series.points if at >= T0 - timedelta(minutes=10)]
    assert ramp[0] == 10 and ramp[-1] == 110
    assert ramp == sorted(ramp)


def test_log_rate_window_and_placeholders():
    data = base_scenario()
    data["logs"][0]["patterns"] = [
        {
            "template": "id={uuid} n={int:5-9} f={float:1-2} h={hex:6} c={choice:a|b} "
            "ip={ip} at={ts} {{x}}",
            "rate": "6/m",
            "from": "-10m",
            "to": "-5m",
        }
    ]
    data["logs"][0]["lines"] = [{"at": "-1m", "message": "deployed"}]
    events = expand(parse_scenario(data, "x"), T0).logs[0].events
    assert len(events) == 31
    assert events[-1].message == "deployed"
    sample = events[0].message
    assert "{x}" in sample and "{uuid}" not in sample
    first_ms = int((T0 - timedelta(minutes=10)).timestamp() * 1000)
    assert all(first_ms <= e.timestamp_ms < first_ms + 300_000 for e in events[:-1])


def test_trace_phases_mark_failures_on_span_and_root():
    data = base_scenario()
    data["traces"][0]["phases"] = [
        {
            "from": "-10m",
            "spans": {
                "InvokeModel": {
                    "throttle": 1.0,
                    "http_status": 429,
                    "message": "ThrottlingException: slow down",
                }
            },
        }
    ]
    documents = [json.loads(d) for d in expand(parse_scenario(data, "x"), T0).trace_documents]
    before = [d for d in documents if d["start_time"] < (T0 - timedelta(minutes=10)).timestamp()]
    after = [d for d in documents if d["start_time"] >= (T0 - timedelta(minutes=10)).timestamp()]
    assert before and after
    assert not any("throttle" in d for d in before)
    for root in after:
        model = root["subsegments"][1]
        assert model["throttle"] is True and model["aws"]["operation"] == "InvokeModel"
        assert model["http"]["response"]["status"] == 429
        assert model["cause"]["exceptions"][0]["message"].startswith("ThrottlingException")
        assert root["throttle"] is True
        assert root["name"] == FUNCTION


def test_alarm_reason_is_written_from_the_metric():
    data = base_scenario()
    data["metrics"][1]["segments"] = [{"to": "-3m", "value": 0}, {"from": "-3m", "value": 9}]
    telemetry = expand(parse_scenario(data, "x"), T0)
    assert telemetry.alarm.reason.startswith("Threshold Crossed: 2 datapoints [9.0")
    assert "greater than the threshold (3.0)" in telemetry.alarm.reason


def test_changes_become_lookup_events_records():
    data = base_scenario(
        changes=[
            {
                "at": "-2d",
                "event_source": "lambda.amazonaws.com",
                "event_name": "UpdateFunctionCode20150331v2",
                "resource": FUNCTION,
                "user": "arn:aws:sts::111122223333:assumed-role/deploy/ci",
                "request": {"functionName": FUNCTION},
            }
        ]
    )
    change = expand(parse_scenario(data, "x"), T0).changes[0]
    assert change["EventTime"] == T0 - timedelta(days=2)
    assert change["Resources"][0]["ResourceName"] == FUNCTION
    record = json.loads(change["CloudTrailEvent"])
    assert record["requestParameters"] == {"functionName": FUNCTION}
    assert record["userIdentity"]["type"] == "AssumedRole"
