"""Ingest: what AWS delivers, as one `Alarm`, and whether the bot takes it.

Owns the shapes AWS sends an alarm in (`envelopes`: the SNS envelope and a Lambda's SNS
records, an SQS batch, the EventBridge event, an alarm action's event, the bare alarm
message), the alarm itself in CloudWatch's two spellings (`cloudwatch`: one metric,
math, anomaly band, Metrics Insights, composite; muted or not), where it lives
(`regions`), whose alarms are welcome (`sources`: the allow-list and the decision on
each reading) and SNS's signature, age and subscription (`sns`). Each item becomes a
`Reading`: an `AlarmNotice` (the alarm, the key that makes its delivery idempotent, its
sender), or why it is not an alarm state change, or why it cannot be read
(`AlarmPayloadError` and `SnsError` say why in one line).

A leaf: imports only `bot.models` and `bot.errors`.
"""
