"""Agent: Claude confirms or corrects the triage, within budgets, through read-only tools.

Owns the tool-use loop (`loop`), its per-run state (`state`), the model's tool calls
(`toolbox`), the prompts and the answer's schema (`prompts`), and model prices
(`pricing`). Anything that goes wrong falls back to the triage with the reason.

May import `bot.engine`, `tools`, `bot.observe` and the shared modules; never Slack.
"""
