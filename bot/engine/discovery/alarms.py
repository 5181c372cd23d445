"""Which service each alarm belongs to, and whether the written catalog agrees.

An alarm goes to the service its own tag names; else to the group owning a resource one of
its dimensions names (a function, a model, a guardrail); else to the service whose name
its name starts with. The proposed catalog is then asked, as the bot will ask it, which
service each alarm resolves to; a disagreement (two services sharing a model, an alarm on a
custom metric named unlike its service) is reported in the catalog header.
"""

from __future__ import annotations

from datetime import UTC, datetime

from bot.engine.catalog import Catalog
from bot.engine.discovery.build import Discovered, alarm_owner
from bot.engine.discovery.draft import Draft
from bot.models import Alarm
from tools.discovery import Inventory
from tools.discovery.alarms import MetricAlarm


def _by_dimension(alarm: MetricAlarm, drafts: dict[str, Draft]) -> tuple[Draft, str] | None:
    """The first group owning a resource one of the alarm's dimensions names (an ARN
    value by its last path part, as the catalog compares them)."""
    for draft in drafts.values():
        names = draft.names()
        for key, value in alarm.dimensions.items():
            short = value.rsplit("/", 1)[-1] if value.startswith("arn:") else value
            if value in names or short in names:
                return draft, f"dimension {key}"
    return None


def place_alarms(found: Discovered, inventory: Inventory, tag_key: str) -> None:
    """Attribute every alarm to a group, or list it as loose; then check the catalog."""
    tagged = alarm_owner(inventory, tag_key)
    found.alarm_count = len(inventory.alarms)
    for alarm in inventory.alarms:
        service = tagged.get(alarm.name)
        if service:
            draft = found.services.setdefault(
                service, Draft(service, f"alarms tagged {tag_key}={service}")
            )
            draft.alarms[alarm.name] = f"tag {tag_key}={service}"
            continue
        hit = _by_dimension(alarm, found.services) or _by_dimension(alarm, found.unattributed)
        if hit:
            hit[0].alarms[alarm.name] = hit[1]
            continue
        prefixed = [d for d in found.services.values() if alarm.name.startswith(d.name)]
        if prefixed:
            max(prefixed, key=lambda d: len(d.name)).alarms[alarm.name] = "name prefix"
            continue
        found.loose_alarms[alarm.name] = (
            f"{alarm.namespace} {alarm.metric}: no {tag_key} tag, no dimension naming a "
            "discovered resource, no service name it starts with"
        )
    found.alarm_checks = check_alarms(found, inventory)


def check_alarms(found: Discovered, inventory: Inventory) -> list[str]:
    """How the proposed catalog resolves each alarm, where it differs from its owner."""
    catalog = Catalog(services=[d.entry() for d in found.services.values()])
    owners = {a: d.name for d in found.services.values() for a in d.alarms}
    grouped = {a: d.name for d in found.unattributed.values() for a in d.alarms}
    now = datetime.now(UTC)
    problems: list[str] = []
    for alarm in inventory.alarms:
        resolved = catalog.resolve(
            Alarm(
                name=alarm.name,
                namespace=alarm.namespace,
                metric=alarm.metric,
                dimensions=alarm.dimensions,
                changed_at=now,
            )
        )
        got = resolved.name if resolved else None
        if alarm.name in owners and got != owners[alarm.name]:
            problems.append(
                f"alarm {alarm.name} belongs to {owners[alarm.name]} but resolves to "
                f"{got or 'no service'}: another service claims the resource it watches, or "
                "its name does not start with the service's"
            )
        elif alarm.name in grouped:
            problems.append(
                f"alarm {alarm.name} resolves to {got or 'no service'} until the unattributed "
                f"group {grouped[alarm.name]} is tagged or moved under `services:`"
            )
    return problems
