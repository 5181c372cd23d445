"""What every discovery reader shares: notes instead of crashes, and progress as it reads.

An account is read API by API; an API that the account refuses (AccessDenied), that the
region or endpoint does not offer (an emulator's 500 or NotImplemented) or that fails for
any other reason becomes one `Note` and the reading goes on with what the others found.
The catalog header and stderr show the notes, so a user knows what was not looked at.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from tools.aws import describe_error, error_code

T = TypeVar("T")

# Codes that mean the API is not there (an emulator, a region without the service),
# as opposed to a refusal or a transient failure: the note says "not offered".
UNSUPPORTED_CODES = frozenset(
    {
        "NotImplemented",
        "NotImplementedException",
        "InternalFailure",
        "InternalError",
        "InternalServerException",
        "UnknownOperationException",
        "UnrecognizedClientException",
        "EndpointConnectionError",
    }
)
DENIED_CODES = frozenset(
    {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
)

Progress = Callable[[str], None]


def quiet(_: str) -> None:
    """Progress that goes nowhere (tests, library use)."""


@dataclass(frozen=True)
class Note:
    """Something discovery could not read, and why, in one line."""

    api: str  # the AWS operation, e.g. `bedrock:ListGuardrails`
    reason: str
    kind: str = "failed"  # failed | denied | unsupported

    def line(self) -> str:
        verb = {"denied": "denied", "unsupported": "not offered here"}.get(self.kind, "failed")
        return f"{self.api} {verb}: {self.reason}"


@dataclass
class Notes:
    """The notes of one discovery run, in the order they were made."""

    items: list[Note] = field(default_factory=list)

    def add(self, api: str, exc: BaseException) -> Note:
        code = error_code(exc)
        if code in DENIED_CODES:
            kind = "denied"
        elif code in UNSUPPORTED_CODES or code.isdigit():
            kind = "unsupported"
        else:
            kind = "failed"
        note = Note(api, describe_error(exc), kind)
        self.items.append(note)
        return note

    def lines(self) -> list[str]:
        return [note.line() for note in self.items]


def attempt(notes: Notes, api: str, read: Callable[[], T], default: T, progress: Progress) -> T:
    """`read()`, or `default` with a note (also told to `progress`) when it raises."""
    try:
        return read()
    except Exception as exc:
        note = notes.add(api, exc)
        progress(f"skipped {note.line()}")
        return default
