"""Slack: everything that speaks Slack.

Owns the Bolt app and its listeners (`app`, `commands` for `/llm-incident`, `mentions`,
`feedback` for buttons, reactions and the 👎 modal), the Block Kit messages (`blocks`),
the incident thread and its pacing (`threads`: `SlackThread`, `Poster`), console links,
the metric chart, who may ask (`access`) and malformed-request checks (`payloads`).

May import `bot.incidents` and everything below it; the server builds on it.
"""
