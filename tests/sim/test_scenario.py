import contextlib
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from bot.config import BUNDLED_SCENARIOS
from bot.sim.scenario import (
    ScenarioError,
    load_scenario,
    parse_duration,
    parse_offset,
    parse_rate,
    parse_scenario,
    scenario_files,
)
from tests.conftest import SHARED_SCENARIOS
from tests.factories import base_scenario


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("-45m", timedelta(minutes=-45)),
        ("+5m", timedelta(minutes=5)),
        ("-90s", timedelta(seconds=-90)),
        ("0", timedelta(0)),
        (0, timedelta(0)),
        ("-2d", timedelta(days=-2)),
        ("-1h30m", timedelta(minutes=-90)),
    ],
)
def test_offsets_are_read_as_written(text, expected):
    assert parse_offset(text) == expected


@pytest.mark.parametrize("bad", ["45", "-5x", "", "soon", 12, True, None, "--5m"])
def test_bad_offsets_say_what_an_offset_looks_like(bad):
    with pytest.raises(ValueError, match=r"offset|time"):
        parse_offset(bad)


def test_durations_and_rates():
    assert parse_duration("2400ms") == pytest.approx(2.4)
    assert parse_duration("2.4s") == pytest.approx(2.4)
    assert parse_rate("120/m") == pytest.approx(2.0)
    assert parse_rate("0.5/m") == pytest.approx(0.5 / 60)
    assert parse_rate("3/s") == pytest.approx(3.0)
    with pytest.raises(ValueError, match="rate"):
        parse_rate("fast")


@given(st.text(max_size=20))
def test_offset_parser_only_raises_value_errors(text):
    with contextlib.suppress(ValueError):
        parse_offset(text)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=10),
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=20,
    )
)
def test_scenario_parser_rejects_garbage_with_a_scenario_error(data):
    """Any YAML value either reads or fails with ScenarioError naming the file."""
    with contextlib.suppress(ScenarioError):
        parse_scenario(data, "fuzz.yaml")


def test_every_bundled_and_shared_scenario_reads():
    paths = scenario_files(BUNDLED_SCENARIOS, *[p for p in [SHARED_SCENARIOS] if p.is_dir()])
    assert len(paths) >= 13
    for path in paths:
        assert load_scenario(path).expected is not None, path


def test_error_names_the_file_and_the_field_path(tmp_path: Path):
    data = base_scenario()
    data["metrics"][1]["segments"][0]["from"] = "yesterday"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    message = str(caught.value)
    assert str(path) in message
    assert "metrics[1].segments[0].from" in message


def test_invalid_yaml_names_the_line(tmp_path: Path):
    path = tmp_path / "bad.yaml"
    path.write_text("version: 1\nid: [unclosed\n")
    with pytest.raises(ScenarioError, match=r"bad.yaml: not valid YAML \(line"):
        load_scenario(path)


def test_unknown_category_is_rejected():
    data = base_scenario(expected={"category": "cosmic_rays"})
    with pytest.raises(ScenarioError, match=r"expected\.category"):
        parse_scenario(data, "x.yaml")


def test_phase_naming_an_unknown_span_is_rejected():
    data = base_scenario()
    data["traces"][0]["phases"] = [{"from": "-5m", "spans": {"Nope": {"fault": 0.5}}}]
    with pytest.raises(ScenarioError, match="Nope"):
        parse_scenario(data, "x.yaml")


def test_unknown_keys_are_kept_as_warnings(caplog):
    data = base_scenario(colour="blue")
    scenario = parse_scenario(data, "x.yaml")
    assert scenario.id == "test-scenario"
    assert "unknown key colour" in caplog.text
