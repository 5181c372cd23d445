"""The service catalog: which service, team and channel an alarm belongs to.

An alarm belongs to a service when one of its dimensions names one of the
service's resources, or else when its name starts with the service's name (the
longest such name wins, so `chat-api` beats `chat`). An alarm no entry claims
still gets investigated, from its own metric.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from bot.errors import BadInputError, format_validation_error
from bot.models import Alarm, ServiceEntry


class CatalogError(BadInputError):
    """A catalog file that cannot be used; the message names the file and the field."""


class Catalog(BaseModel):
    services: list[ServiceEntry] = Field(default_factory=list)

    @model_validator(mode="after")
    def _unique_names(self) -> Catalog:
        seen: set[str] = set()
        for service in self.services:
            if service.name in seen:
                raise ValueError(f"service {service.name!r} is listed twice")
            seen.add(service.name)
        return self

    def resolve(self, alarm: Alarm) -> ServiceEntry | None:
        values = set(alarm.dimensions.values())
        short = {v.rsplit("/", 1)[-1] for v in values if v.startswith("arn:")}
        for service in self.services:
            names = {service.name, *service.resource_names()}
            if values & names or short & names:
                return service
        by_prefix = [s for s in self.services if alarm.name.startswith(s.name)]
        return max(by_prefix, key=lambda s: len(s.name), default=None)

    def find(self, name: str) -> ServiceEntry | None:
        return next((s for s in self.services if s.name == name), None)


def parse_catalog(data: Any, source: str) -> Catalog:
    if data is None:
        return Catalog()
    if not isinstance(data, dict):
        raise CatalogError(f"{source}: a catalog is a mapping with a `services:` list")
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        raise CatalogError(format_validation_error(source, exc)) from None


def load_catalog(path: Path | str | None) -> Catalog:
    """The catalog at `path`; no path means an empty catalog, not an error."""
    if path is None:
        return Catalog()
    path = Path(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CatalogError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise CatalogError(f"{path}: not valid YAML: {exc}") from None
    return parse_catalog(data, str(path))
