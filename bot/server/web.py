"""HTTP mode: `/slack/events`, `/aws/sns`, `/healthz` and `/metrics`, served by waitress.

A plain WSGI application (no framework): Bolt takes the raw body and headers for
its own signature check; SNS deliveries are checked here before anything is stored, in
this order: SNS's signature (400), the signed Timestamp's age (400, stale), the topic
against the allow-list (403; a subscription to a topic not allowed is not confirmed),
then the alarm (`bot.server.intake`; a replayed MessageId is a counted no-op). Waitress
is a production server (threads, timeouts, request-size limits), unlike Bolt's
development server.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from datetime import timedelta
from typing import Any

from prometheus_client import CollectorRegistry, Counter, generate_latest
from slack_bolt import App, BoltRequest

from bot.incidents.flow import Incidents
from bot.ingest.alarms import read_body
from bot.ingest.regions import clean_arn
from bot.ingest.sns import CertificateCache, SnsError, check_fresh, confirm_subscription, verify
from bot.server.intake import Intake
from bot.slack.payloads import malformed

log = logging.getLogger(__name__)
MAX_BODY = 256 * 1024  # SNS messages are at most 256 KB; Slack payloads far less
StartResponse = Callable[[str, list[tuple[str, str]]], Any]


class WebMetrics:
    """The server's own counters, in a registry of its own (no global state) or in the one
    the bot's OpenTelemetry metrics are read into, so that `/metrics` shows both."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.requests = Counter(
            "llm_incident_http_requests",
            "HTTP requests",
            ["path", "status"],
            registry=self.registry,
        )
        self.alarms = Counter(
            "llm_incident_alarms",
            "Alarm deliveries by outcome",
            ["outcome"],
            registry=self.registry,
        )
        self.refused = Counter(
            "llm_incident_sns_refused",
            "SNS deliveries refused, by why: malformed, signature, stale, topic (not allowed), "
            "unreadable (not an alarm), skipped (muted, not an alarm event)",
            ["reason"],
            registry=self.registry,
        )
        self.replayed = Counter(
            "llm_incident_sns_replayed",
            "SNS notifications whose MessageId was already stored (dropped)",
            registry=self.registry,
        )


class WebApp:
    def __init__(
        self,
        bolt: App,
        incidents: Incidents,
        certificates: CertificateCache | None = None,
        confirm: Callable[[dict[str, Any]], None] = confirm_subscription,
    ) -> None:
        self.bolt = bolt
        self.incidents = incidents
        self.intake = Intake(incidents)
        self.max_age = timedelta(seconds=incidents.rt.settings.sns_max_age_s)
        self.certificates = certificates or CertificateCache()
        self.confirm = confirm
        self.metrics = WebMetrics(incidents.rt.telemetry.registry)

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        try:
            status, headers, body = self.route(method, path, environ)
        except Exception:
            log.exception("request to %s failed", path)
            status, headers, body = 500, {"Content-Type": "text/plain"}, b"internal error"
        self.metrics.requests.labels(
            path=path if path in ROUTES else "other", status=str(status)
        ).inc()
        start_response(f"{status} {STATUS_TEXT.get(status, 'OK')}", list(headers.items()))
        return [body]

    def route(
        self, method: str, path: str, environ: dict[str, Any]
    ) -> tuple[int, dict[str, str], bytes]:
        if (method, path) == ("GET", "/healthz"):
            return 200, {"Content-Type": "text/plain"}, b"ok"
        if (method, path) == ("GET", "/metrics"):
            return (
                200,
                {"Content-Type": "text/plain; version=0.0.4"},
                generate_latest(self.metrics.registry),
            )
        if method != "POST" or path not in ("/slack/events", "/aws/sns"):
            return 404, {"Content-Type": "text/plain"}, b"not found"
        length = int(environ.get("CONTENT_LENGTH") or 0)
        if length > MAX_BODY:
            return 413, {"Content-Type": "text/plain"}, b"payload too large"
        body = environ["wsgi.input"].read(length) if length else b""
        if path == "/slack/events":
            return self.slack(body, environ)
        return self.sns(body)

    def slack(self, body: bytes, environ: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        headers["content-type"] = environ.get("CONTENT_TYPE", "")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            text, problem = "", "body is not UTF-8"
        else:
            problem = malformed(text, headers["content-type"])
        if problem is not None:
            log.warning("rejected /slack/events request: %s", problem)
            return 400, {"Content-Type": "text/plain"}, f"rejected: {problem}".encode()
        response = self.bolt.dispatch(BoltRequest(body=text, headers=headers))
        out = {k: v[0] for k, v in response.headers.items() if v}
        return response.status, out, response.body.encode("utf-8")

    def sns(self, body: bytes) -> tuple[int, dict[str, str], bytes]:
        try:
            message = json.loads(body)
            if not isinstance(message, dict):
                raise SnsError("not a JSON object")
            verify(message, self.certificates)
        except (ValueError, SnsError) as exc:
            return self._refuse(400, "signature" if isinstance(exc, SnsError) else "malformed", exc)
        try:
            check_fresh(message, self.max_age)
        except SnsError as exc:
            return self._refuse(400, "stale", exc)
        kind, topic = message["Type"], clean_arn(str(message.get("TopicArn", "")))
        if kind == "SubscriptionConfirmation":
            refusal = self.intake.allow.topic_refusal(topic)
            if refusal:
                why = f"subscription to {topic[:200]} not confirmed: {refusal}"
                return self._refuse(403, "topic", why)
            self.confirm(message)
            log.info("confirmed SNS subscription to %s", topic)
            return 200, TEXT, b"subscribed"
        if kind == "UnsubscribeConfirmation":
            log.info("SNS unsubscribed %s", topic)
            return 200, TEXT, b"ok"
        outcome = self.intake.take(read_body(message, "sns-http"))
        if outcome.status == "unreadable":
            return self._refuse(400, "unreadable", outcome.detail)
        if outcome.status == "refused":
            return self._refuse(403, "topic", outcome.detail)
        if outcome.status == "skipped":
            self.metrics.refused.labels(reason="skipped").inc()
            return 200, TEXT, f"skipped: {outcome.detail}".encode()
        self.metrics.alarms.labels(outcome=outcome.detail).inc()
        if outcome.detail == "duplicate":
            self.metrics.replayed.inc()
        return 200, TEXT, outcome.detail.encode()

    def _refuse(self, status: int, reason: str, why: object) -> tuple[int, dict[str, str], bytes]:
        self.metrics.refused.labels(reason=reason).inc()
        log.warning("refused /aws/sns delivery (%s): %s", reason, why)
        return status, TEXT, f"rejected: {why}".encode()


TEXT = {"Content-Type": "text/plain"}
ROUTES = {"/healthz", "/metrics", "/slack/events", "/aws/sns"}
STATUS_TEXT = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    413: "Payload Too Large",
    500: "Internal Server Error",
}


def make_server(app: WebApp, host: str, port: int, threads: int = 8) -> Any:
    """A waitress server (call `.run()`; `.close()` stops it); port 0 picks a free one."""
    from waitress.server import create_server

    return create_server(
        app,
        host=host,
        port=port,
        threads=threads,
        max_request_body_size=MAX_BODY,
        ident="llm-incident",
    )
