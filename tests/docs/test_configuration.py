"""docs/configuration.md is generated from the settings model, and names every setting.

The table between the `settings:start` / `settings:end` markers is
`bot.config.settings_reference()`; a field added, renamed or re-described in
`bot/config.py` fails here until the page is regenerated.
"""

from __future__ import annotations

import pytest
from pydantic import AliasChoices

from bot.config import PROJECT_ROOT, Settings, settings_reference
from tests.docs.regenerate import CONFIGURATION, split

REGENERATE = (
    "docs/configuration.md is out of date with bot/config.py; rewrite its settings table with "
    "`.venv/bin/python -m tests.docs.regenerate` (or paste the output of "
    '`.venv/bin/python -c "from bot.config import settings_reference; '
    'print(settings_reference())"` between the markers)'
)


def env_names() -> list[str]:
    names: list[str] = []
    for name, field in Settings.model_fields.items():
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names += [choice for choice in alias.choices if isinstance(choice, str)]
        else:
            names.append(alias if isinstance(alias, str) else name.upper())
    return names


def test_the_generated_table_is_the_one_in_the_page():
    _, table, _ = split(CONFIGURATION.read_text(encoding="utf-8"))
    assert table == settings_reference(), REGENERATE


def test_every_setting_is_named_in_the_page():
    page = CONFIGURATION.read_text(encoding="utf-8")
    missing = [name for name in env_names() if f"`{name}`" not in page]
    assert not missing, f"not in docs/configuration.md: {', '.join(missing)}. {REGENERATE}"


def test_every_setting_says_what_it_means():
    bare = [name for name, field in Settings.model_fields.items() if not field.description]
    assert not bare, f"give these fields a description= in bot/config.py: {', '.join(bare)}"


def test_the_table_has_a_row_per_setting_in_sections():
    table = settings_reference()
    rows = [line for line in table.splitlines() if line.startswith("| `")]
    assert len(rows) == len(Settings.model_fields)
    assert [line for line in table.splitlines() if line.startswith("### ")] == [
        "### AWS",
        "### Investigation",
        "### Slack, the alarm queue and the database",
        "### LLM",
        "### Telemetry of the bot itself and the weekly digest",
    ]
    assert "| `LLM_INCIDENT_LOOKBACK_MINUTES` |" in table
    assert "| `90` | integer, 10 ≤ x ≤ 1440 |" in table
    assert "| `anthropic`, `bedrock`, `none` |" in table
    assert str(PROJECT_ROOT) not in table  # the bundled runbooks show as `runbooks/`


def test_the_split_refuses_a_page_without_markers():
    with pytest.raises(ValueError, match="markers"):
        split("# Configuration\n\nno table here\n")
