"""llm-incident: a Slack ChatOps assistant for the on-call engineers of GenAI services on AWS.

The packages follow one alarm's path:

1. `bot.ingest`: an SNS, SQS, EventBridge or Lambda payload becomes an `Alarm`.
2. `bot.incidents`: the alarm is stored and grouped into an incident; the incident's
   thread is opened and an analysis job queued.
3. `bot.engine`: the job gathers the evidence (`tools`, concurrently, under a deadline),
   finds the onset and ranks the root-cause hypotheses (triage, runbooks).
4. `bot.agent`: with an LLM configured, Claude confirms or corrects the triage with the
   same read-only tools.
5. `bot.slack`: the thread shows the alarm, the progress, the analysis and its evidence;
   people ask, vote and correct.
6. `bot.server`: the processes that run all this (HTTP, Socket Mode, Lambda, scheduler).

Beside the path: `bot.store` (what survives a restart), `bot.observe` (the bot's own
telemetry, stats and exports), `bot.cli` (the `llm-incident` command). Outside it:
`bot.sim`, the simulator (scenarios, an AWS emulator, loopback fakes), which nothing in
the runtime imports. `bot.models`, `bot.config` and `bot.errors` are shared by all.
The allowed imports are the contracts in `pyproject.toml` (`lint-imports`).
"""
