"""`llm-incident export-scenario`: a real incident written back as a scenario file (v1).

The benchmark should grow from production: an incident the team confirmed becomes a
scenario anyone can replay offline. Its telemetry is read again from AWS with the same
read-only tools the evidence gathering uses, over the incident's window (`read`), and
summarised into the scenario format's own terms, one module per source:

- `metrics`: a metric series becomes piecewise segments: recursive two-segment splits
  (the tools' change point) while the two sides differ clearly, each a level and a jitter;
- `logs`: log lines become patterns: variable tokens (times, ids, addresses, hex,
  numbers) turn into placeholders with the ranges seen, identical skeletons are one
  pattern whose rate is segmented like a metric; rare lines are kept as single lines;
- `traces`: traces become shapes (root and subsegments) with a phase from the onset
  carrying the durations and failure shares seen since;
- `changes`: CloudTrail changes are kept as they were.

`incident` puts the incident around them (window, alarms, service, the `expected` root
cause the voters confirmed) and writes the file. Everything textual passes through
`bot.engine.redact` first. Part of the simulator: it may import the engine, the store
and `bot.observe`; nothing in the runtime imports it.
"""

from __future__ import annotations

from bot.sim.export.incident import ExportError, export_scenario, write_scenario
from bot.sim.export.read import Read, read_telemetry

__all__ = ["ExportError", "Read", "export_scenario", "read_telemetry", "write_scenario"]
