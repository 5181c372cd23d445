"""The service catalog: which service, team and channel an alarm belongs to, and where
its telemetry is read.

An alarm belongs to a service when one of its dimensions (or of the metrics a math or
anomaly alarm reads) names one of the service's resources, or else when its name, or the
name of a composite's triggering child, starts with the service's name (the longest
such name wins, so `chat-api` beats `chat`). An alarm on AgentCore's runtime metrics
(`AWS/Bedrock-AgentCore`) belongs to the service whose `agent_runtimes` id its `Resource`
or `Name` dimension names. A service that names its `account` claims
only alarms of that account (where the alarm says its account), and is preferred there
over one that names none. An alarm no entry claims still gets investigated, from its
own metric.

The service is read in the alarm's region, with the role the catalog names for it
(`target_clients`); its Bedrock models, when called through a cross-region inference
profile (`us.`, `eu.`, `apac.`, `global.`...), also in the regions that profile routes
to (`bedrock_regions`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, Field, ValidationError, model_validator

from bot.engine import agentcore as agentcore_namespace
from bot.errors import BadInputError, format_validation_error
from bot.models import Alarm, ServiceEntry
from tools.aws import AwsClients

# The regions a geography's cross-region inference profiles may route to, as the AWS
# CDK (aws-bedrock-alpha `CrossRegionInferenceProfileRegion`, the geography's regions)
# and Bedrock's user guide (Supported Regions and models for inference profiles) list
# them; which of them one model uses depends on the model and the source region.
GEOGRAPHIES: dict[str, tuple[str, ...]] = {
    "us": ("us-east-1", "us-east-2", "us-west-1", "us-west-2"),
    "us-gov": ("us-gov-east-1", "us-gov-west-1"),
    "eu": (
        "eu-central-1",
        "eu-central-2",
        "eu-north-1",
        "eu-south-1",
        "eu-south-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
    ),
    "apac": (
        "ap-east-2",
        "ap-northeast-1",
        "ap-northeast-2",
        "ap-northeast-3",
        "ap-south-1",
        "ap-south-2",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-southeast-3",
        "ap-southeast-4",
        "ap-southeast-5",
        "ap-southeast-7",
        "me-central-1",
    ),
    "jp": ("ap-northeast-1", "ap-northeast-3"),
    "au": ("ap-southeast-2", "ap-southeast-4"),
}
# A `global.` profile routes to every commercial region: those of the geographies above.
GEOGRAPHIES["global"] = tuple(sorted({r for geo in ("us", "eu", "apac") for r in GEOGRAPHIES[geo]}))


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
        """The alarm's service: by a resource its metrics name, else by name prefix;
        among the services of the alarm's own account first."""
        values = set(alarm.all_dimensions().values())
        short = {v.rsplit("/", 1)[-1] for v in values if v.startswith("arn:")}
        names = [alarm.name, *(child.rsplit(":", 1)[-1] for child in alarm.children)]
        agentcore = [
            m.dimensions
            for m in [alarm, *alarm.metrics]
            if m.namespace == agentcore_namespace.NAMESPACE
        ]
        for candidates in self._by_account(alarm.account):
            for service in candidates:
                owned = {service.name, *service.resource_names()}
                if values & owned or short & owned:
                    return service
                if service.agent_runtimes and any(
                    agentcore_namespace.names_runtime(dims, service.agent_runtimes)
                    for dims in agentcore
                ):
                    return service
            by_prefix = [s for s in candidates if any(n.startswith(s.name) for n in names)]
            if by_prefix:
                return max(by_prefix, key=lambda s: len(s.name))
        return None

    def _by_account(self, account: str) -> list[list[ServiceEntry]]:
        """The services that may claim an alarm of `account`, the account's own first:
        one that names another account never claims it (unless the alarm's account is
        unknown)."""
        if not account:
            return [self.services]
        own = [s for s in self.services if s.role_account == account]
        anywhere = [s for s in self.services if s.role_account is None]
        return [own, anywhere]

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


def target_clients(aws: AwsClients, alarm: Alarm, service: ServiceEntry | None) -> AwsClients:
    """Clients for reading the alarm's telemetry: in the alarm's region, with the role the
    service's catalog entry names (else the bot's own credentials)."""
    role = service.role_arn if service else None
    return aws.for_target(
        region=alarm.region or aws.region,
        role_arn=role,
        external_id=service.external_id if service and role else None,
    )


def inference_regions(model_id: str) -> tuple[str, ...]:
    """The regions a cross-region inference profile id (or ARN) routes to; none for a
    model called in one region."""
    name = model_id.rsplit("/", 1)[-1]
    prefix = name.split(".", 1)[0] if "." in name else ""
    return GEOGRAPHIES.get(prefix, ())


def bedrock_regions(service: ServiceEntry | None, home: str) -> list[str]:
    """The other regions the service's Bedrock calls may have run in: its profiles'
    geographies, narrowed to `bedrock.regions` when the catalog lists them."""
    if service is None:
        return []
    found = {r for model in service.bedrock.model_ids for r in inference_regions(model)}
    if service.bedrock.regions:
        found &= set(service.bedrock.regions)
    return sorted(found - {home})
