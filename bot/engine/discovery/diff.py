"""`discover --diff`: what the account has that the catalog in use does not, and back.

Compared per service and per resource list. Fields discovery cannot know (a description,
or a channel or team no tag gave) are compared only when discovery found a value, so a
hand-written channel is never reported as drift.
"""

from __future__ import annotations

from bot.engine.catalog import Catalog
from bot.models import ServiceEntry


def _fields(entry: ServiceEntry) -> dict[str, set[str]]:
    return {
        "lambda_functions": set(entry.lambda_functions),
        "log_groups": set(entry.log_groups),
        "xray_service_names": set(entry.xray_service_names),
        "bedrock.model_ids": set(entry.bedrock.model_ids),
        "bedrock.guardrails": {f"{g.id}@{g.version}" for g in entry.bedrock.guardrails},
        "bedrock.knowledge_bases": set(entry.bedrock.knowledge_bases),
        "bedrock.invocation_log_group": {entry.bedrock.invocation_log_group} - {None},
        "dependencies": set(entry.dependencies),
    }


def catalog_diff(current: Catalog, found: Catalog, source: str = "the catalog") -> list[str]:
    """Lines of drift, `+` for what the account has and the catalog lacks, `-` for the
    reverse; empty when they agree."""
    lines: list[str] = []
    mine = {s.name: s for s in current.services}
    theirs = {s.name: s for s in found.services}
    for name in sorted(theirs.keys() - mine.keys()):
        lines.append(f"+ service {name}: in the account, not in {source}")
    for name in sorted(mine.keys() - theirs.keys()):
        lines.append(f"- service {name}: in {source}, no resource tagged for it in the account")
    for name in sorted(mine.keys() & theirs.keys()):
        ours, account = mine[name], theirs[name]
        changes: list[str] = []
        for attr in ("team", "slack_channel"):
            found_value = getattr(account, attr)
            if found_value and found_value != getattr(ours, attr):
                changes.append(f"    ~ {attr}: {getattr(ours, attr)!r} -> {found_value!r}")
        have, seen = _fields(ours), _fields(account)
        for key in have:
            changes += [f"    + {key}: {value}" for value in sorted(seen[key] - have[key])]
            changes += [f"    - {key}: {value}" for value in sorted(have[key] - seen[key])]
        if changes:
            lines.append(f"~ service {name}:")
            lines += changes
    return lines
