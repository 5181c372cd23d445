"""The team's runbooks: Markdown files with YAML front matter, one per root cause.

Triage takes each runbook's `signals` as extra evidence keywords and its
`remediation` as the steps it proposes; the agent hands the matching runbooks to
Claude; `/llm-incident runbooks` and `llm-incident runbooks` search them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, ValidationError, model_validator

from bot.errors import BadInputError, format_validation_error
from bot.models import Category
from tools.vocabulary import FAMILIES

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*\n?(.*)\Z", re.S)


class RunbookError(BadInputError):
    """A runbook file that cannot be used; the message names the file and the field."""


class Link(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1)
    url: HttpUrl


class Runbook(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str = Field(min_length=1, max_length=120)
    category: Category
    severity: Literal["critical", "high", "medium", "low"]
    signals: list[str] = Field(min_length=1)
    remediation: list[str] = Field(min_length=1)
    links: list[Link] = Field(default_factory=list)
    body: str = ""
    path: Path | None = None

    @model_validator(mode="after")
    def _nonblank(self) -> Runbook:
        if any(not s.strip() for s in [*self.signals, *self.remediation]):
            raise ValueError("signals and remediation steps must not be blank")
        return self

    def matches(self, query: str) -> int:
        """How well a free-text query matches: words found in title, signals and body."""
        words = [w for w in re.findall(r"[\w-]+", query.lower()) if len(w) > 1]
        if not words:
            return 1
        signals = [vocabulary_words(s) for s in self.signals]
        head = " ".join([self.id, self.title, self.category.value, *signals]).lower()
        body = self.body.lower()
        return sum(3 if w in head else 1 if w in body else 0 for w in words)


def vocabulary_words(signal: str) -> str:
    """A signal as searchable words: a vocabulary id brings its family's description and
    signature names (`out_of_memory` finds "signal killed", "Runtime.OutOfMemory")."""
    family = FAMILIES.get(signal)
    if family is None:
        return signal
    names = " ".join(s.id.split(".", 1)[1].replace("_", " ") for s in family.signatures)
    return f"{signal} {family.about} {names}"


def parse_runbook(text: str, source: str) -> Runbook:
    match = _FRONT_MATTER.match(text)
    if not match:
        raise RunbookError(f"{source}: no YAML front matter between --- lines at the top")
    try:
        meta = yaml.safe_load(match.group(1))
    except yaml.YAMLError as exc:
        raise RunbookError(f"{source}: front matter is not valid YAML: {exc}") from None
    if not isinstance(meta, dict):
        raise RunbookError(f"{source}: front matter must be a mapping")
    try:
        return Runbook.model_validate({**meta, "body": match.group(2).strip(), "path": source})
    except ValidationError as exc:
        raise RunbookError(format_validation_error(source, exc)) from None


def load_runbooks(folder: Path | str) -> list[Runbook]:
    """Every `*.md` runbook of a folder, validated; ids must be unique."""
    folder = Path(folder)
    if not folder.is_dir():
        raise RunbookError(f"{folder}: runbook folder not found")
    books: list[Runbook] = []
    seen: dict[str, Path] = {}
    for path in sorted(folder.glob("*.md")):
        if path.name.lower() == "readme.md":
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise RunbookError(f"{path}: cannot read: {exc.strerror or exc}") from None
        book = parse_runbook(text, str(path))
        if book.id in seen:
            raise RunbookError(f"{path}: id: {book.id!r} is already used by {seen[book.id]}")
        seen[book.id] = path
        books.append(book)
    return books


def by_category(books: list[Runbook]) -> dict[Category, Runbook]:
    """The runbook for each category (the first, by file name, when several share one)."""
    found: dict[Category, Runbook] = {}
    for book in books:
        found.setdefault(book.category, book)
    return found


def search(books: list[Runbook], query: str = "") -> list[Runbook]:
    """Runbooks matching the query, best first; an empty query lists them all."""
    if not query.strip():
        return list(books)
    scored = [(book.matches(query), book) for book in books]
    return [book for score, book in sorted(scored, key=lambda p: -p[0]) if score > 0]
