"""Server: the processes the bot runs as, and their wiring.

Owns `runtime` (everything built once from the settings), `web` (HTTP mode: Slack events,
SNS deliveries, health and metrics, served by waitress), `lambda_handler` (AWS Lambda:
Slack through Bolt's adapter, SQS batches, EventBridge schedules) and `scheduler`
(APScheduler: SQS polling, the recovery sweep, the weekly digest).

The top of the runtime: may import everything but the simulator.
"""
