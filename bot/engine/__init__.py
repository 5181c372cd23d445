"""Engine: from an alarm to ranked, evidenced hypotheses, with no LLM and no Slack.

Owns the service catalog (which service an alarm belongs to), the runbooks, the onset
(when the incident began), the evidence bundle (every tool at once, under a deadline,
redacted and sized), the features triage reasons with, the triage itself, and
`investigate`, the pipeline every entry point shares.

May import `tools`, `bot.models`, `bot.config`, `bot.errors` and `bot.observe` (spans).
An LLM enters only as an `Analyst` handed to `investigate` (`bot.agent` is above).
"""
