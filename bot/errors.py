"""Every error llm-incident raises on purpose, under one root.

::

    LlmIncidentError
    ├── BadInputError (also a ValueError)   outside input we cannot use: exit code 2
    │   ├── ConfigError                      a setting                     bot.config
    │   │   └── SchemaError                  the database is behind         bot.store.schema
    │   ├── CatalogError                     the service catalog           bot.engine.catalog
    │   ├── RunbookError                     a runbook's front matter      bot.engine.runbooks
    │   ├── ScenarioError                    a scenario file               bot.sim.scenario
    │   ├── AlarmPayloadError                an alarm delivery             bot.ingest.alarms
    │   └── SnsError                         an SNS envelope or signature  bot.ingest.sns
    ├── NoChannelError                       nowhere to post an incident   bot.incidents.flow
    ├── StopError                            the agent loop cannot go on   bot.agent.loop
    └── ExportError                          an incident cannot be exported bot.sim.export

Each package defines its own subclasses beside the code that raises them. A tool's failure
is `tools.base.ToolError`, outside this tree: `tools` depends on nothing in `bot`.
"""

from __future__ import annotations

from pydantic import ValidationError


class LlmIncidentError(Exception):
    """The root: `except LlmIncidentError` catches every error raised on purpose."""


class BadInputError(LlmIncidentError, ValueError):
    """Input from outside (a file, a setting, a payload) that cannot be used; the message
    names the source and the field, in one line."""


def format_validation_error(source: str, exc: ValidationError) -> str:
    """One readable message naming the source and the field path of each problem."""
    problems = []
    for error in exc.errors():
        message = error["msg"].removeprefix("Value error, ")
        problems.append(f"{_field_path(tuple(error['loc']))}: {message}")
    shown = problems[:5]
    more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
    return f"{source}: " + "; ".join(shown) + more


def _field_path(loc: tuple[int | str, ...]) -> str:
    """`('logs', 0, 'patterns', 1, 'rate')` -> `logs[0].patterns[1].rate`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith(("function-", "constrained-")):
            continue  # pydantic's names for validator layers say nothing to a file's writer
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"
