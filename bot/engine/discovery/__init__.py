"""`llm-incident discover`: a service catalog proposed from what an account has.

`tools.discovery` reads the account (read-only, every failure a note); this package turns
that inventory into catalog entries (`build`: group by tag and follow the links; `alarms`:
place every alarm and check the catalog resolves it), writes them as commented YAML
(`render`) and compares them with a catalog in use (`diff`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from bot.engine.catalog import Catalog
from bot.engine.discovery.alarms import place_alarms
from bot.engine.discovery.build import Discovered, group_inventory
from bot.engine.discovery.diff import catalog_diff
from bot.engine.discovery.render import render_catalog
from tools.discovery import Inventory

__all__ = ["Discovered", "Proposal", "account_of", "catalog_diff", "propose"]


@dataclass
class Proposal:
    """A discovered catalog: the entries, the YAML to write, what was not read."""

    found: Discovered
    yaml: str
    notes: list[str]

    @property
    def catalog(self) -> Catalog:
        return Catalog(services=[d.entry() for d in self.found.services.values()])


def propose(
    inventory: Inventory,
    tag_key: str = "service",
    at: datetime | None = None,
    account: str | None = None,
) -> Proposal:
    found = group_inventory(inventory, tag_key)
    place_alarms(found, inventory, tag_key)
    notes = [note.line() for note in inventory.notes]
    text = render_catalog(
        found,
        region=inventory.region,
        tag_key=tag_key,
        notes=notes,
        at=at or datetime.now(UTC),
        account=account,
    )
    return Proposal(found, text, notes)


def account_of(inventory: Inventory) -> str | None:
    """The account id, from the first ARN discovery saw (no extra call for it)."""
    arns = [f.arn for f in inventory.functions] + [a.arn for a in inventory.alarms]
    for arn in [*arns, *inventory.tags]:
        parts = arn.split(":")
        if len(parts) > 4 and parts[4].isdigit():
            return parts[4]
    return None
