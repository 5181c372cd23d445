"""Ingest: what AWS delivers, as one `Alarm`.

Owns the shapes AWS sends an alarm in (SNS envelope and its signature, SQS record,
EventBridge event, CloudWatch alarm message, `DescribeAlarms` record) and turns each into
an `AlarmNotice`: the alarm and the key that makes its delivery idempotent. Anything else
is refused with an `AlarmPayloadError` or `SnsError` that says why.

A leaf: imports only `bot.models` and `bot.errors`.
"""
