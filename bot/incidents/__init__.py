"""Incidents: alarm -> incident -> thread -> analysis, the flow every entry point shares.

Owns grouping decisions as the flow sees them, the analysis jobs' lifecycle (claim,
heartbeat, resume after a crash, give up after three attempts) and the order in which an
incident is told: root message, progress, chart and evidence, analysis. *How* it is told
is an `IncidentThread` (`thread`), implemented by `bot.slack.threads.SlackThread`.

May import `bot.agent`, `bot.engine`, `bot.store`, `bot.observe`; never `bot.slack`.
"""
