"""Observe: the bot watching itself.

Owns the bot's OpenTelemetry spans and metrics in the GenAI semantic conventions
(`telemetry`, `genai`), their exporters (`telemetry_export`: OTLP, a JSON-lines file,
Prometheus, CloudWatch EMF), and what the store says about the bot's answers (`stats`:
acceptance, accuracy, cost, latency; `feedback_export`: rated analyses as JSON lines).

A leaf beside the flow: imports `bot.store` and the shared modules only.
"""
