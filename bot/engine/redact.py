"""Scrub secrets out of text before it reaches a prompt, a Slack message or a log.

Log lines and trace messages are outside input: they may carry credentials and
personal data. Redaction is applied to everything the evidence bundle renders,
so no later step has to remember to do it.
"""

from __future__ import annotations

import re

_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b(?:AKIA|ASIA|AROA|AIDA)[0-9A-Z]{16}\b"), "[REDACTED:aws-access-key]"),
    (
        re.compile(
            r"(?i)(aws_secret_access_key|secretaccesskey|aws_session_token|sessiontoken)"
            r"([\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9/+=]{16,}"
        ),
        r"\1\2[REDACTED:aws-secret]",
    ),
    (re.compile(r"\bxox[abposre]-[A-Za-z0-9-]{8,}"), "[REDACTED:slack-token]"),
    (re.compile(r"\bxapp-[A-Za-z0-9-]{8,}"), "[REDACTED:slack-token]"),
    (re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/]+"), "[REDACTED:slack-webhook]"),
    (re.compile(r"\bsk-ant-[A-Za-z0-9_-]{8,}"), "[REDACTED:anthropic-key]"),
    (re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=-]{8,}"), "Bearer [REDACTED:token]"),
    (
        re.compile(
            r"(?i)\b(authorization|x-api-key|api[_-]?key|password|passwd|secret)"
            r"([\"']?\s*[:=]\s*[\"']?)[^\s\"',;]{6,}"
        ),
        r"\1\2[REDACTED]",
    ),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}"), "[REDACTED:jwt]"),
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}"), "[REDACTED:email]"),
]


def redact(text: str) -> str:
    """The text with every secret-looking value replaced by a labelled placeholder."""
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
