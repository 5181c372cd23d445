"""Read-only tools over one AWS account: what the investigation and the model may look at.

Each tool is a `tools.base.Tool`: a name, a pydantic input and a `ToolResult` with a text
form for a model and a data form for code. Tools call only `Get*`, `List*`, `Describe*`,
`Filter*`, `StartQuery`/`GetQueryResults`/`StopQuery`, `BatchGetTraces` and
`LookupEvents`.

This package depends on nothing in `bot`: the engine and the agent build on it, never the
other way round (held by the import-linter contract in `pyproject.toml`).
"""

from __future__ import annotations

from tools import changes, guardrails, logs, metrics, spans, traces
from tools.base import Tool

# The tools the model may call, in the order they are offered.
TOOLS: tuple[type[Tool], ...] = (
    metrics.MetricsTool,
    logs.LogsTool,
    traces.TracesTool,
    spans.SpansTool,
    guardrails.GuardrailsTool,
    changes.ChangesTool,
)
