"""A first look at a request body before Bolt parses it: Bolt's parser assumes a JSON
object (or a form whose `payload` is one) and raises on anything else, before the
signature is even checked. A body of another shape is answered 400 here instead of
surfacing as a server error."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl


def malformed(body: str, content_type: str | None) -> str | None:
    """Why Bolt could not parse this body (mirroring its parser), or None when it can."""
    if not body:
        return None
    if content_type == "application/json" or body.startswith("{"):
        return _not_an_object(body, "JSON body")
    if "payload" in body:
        payload = dict(parse_qsl(body, keep_blank_values=True)).get("payload")
        return None if payload is None else _not_an_object(payload, "payload")
    return None


def _not_an_object(text: str, what: str) -> str | None:
    try:
        value = json.loads(text)
    except ValueError as exc:
        return f"{what} is not JSON: {exc}"
    return None if isinstance(value, dict) else f"{what} is not a JSON object"
