"""Loopback stand-ins for what the bot talks to, shared by the tests and the benchmarks.

Each fake is a real HTTP server on 127.0.0.1 (`http.serve`) that the real client reaches
through its endpoint URL, speaks the real protocol closely enough for that client, and
records what it received, so a test asserts on the wire and patches nothing: the Slack
Web API (`slack`), the Anthropic Messages API (`anthropic`), CloudTrail `LookupEvents`
(`cloudtrail`), and, where moto lacks what the tools use at volume, CloudWatch Logs with
Logs Insights (`logs`, running the query subset in `insights`) and X-Ray with filter
expressions and sampling (`xray`); `router` puts those in front of the emulator as one
endpoint; `sns` signs notifications as SNS does; `http.latency_proxy` slows a real
endpoint; `bot_server` serves the bot itself against them. The rest of AWS is the
emulator (`bot.sim.emulator`).

Part of the simulator: the runtime never imports it (the import-linter contracts in
`pyproject.toml`); tests and benches import it from here, and nothing here imports
`tests`.
"""
