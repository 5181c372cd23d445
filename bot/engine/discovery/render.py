"""The catalog as YAML a person reviews: a header, then each value with its origin.

PyYAML writes no comments, so the document is written line by line; every scalar goes
through `yaml.safe_dump`, so quoting is PyYAML's and the file loads back into exactly the
entries it shows (a test holds this for any name hypothesis can make up). Groups that
could not be attributed sit under `unattributed:`, which the catalog loader ignores.
"""

from __future__ import annotations

from datetime import datetime

import yaml

from bot.engine.discovery.build import Discovered
from bot.engine.discovery.draft import Draft

INDENT = "  "


def scalar(value: str) -> str:
    """A string as one YAML scalar (quoted only when it must be)."""
    text = yaml.safe_dump([value], default_flow_style=True, width=10**6, allow_unicode=True)
    return text.strip()[1:-1]


def _comment(text: str) -> str:
    """One printable line, whatever the origin contained (AWS error texts included)."""
    return " ".join("".join(c if c.isprintable() else " " for c in text).split())


def _list(lines: list[str], indent: str, key: str, values: dict[str, str]) -> None:
    if not values:
        return
    lines.append(f"{indent}{key}:")
    for value, origin in values.items():
        lines.append(f"{indent}{INDENT}- {scalar(value)}  # {_comment(origin)}")


def render_draft(draft: Draft, indent: str) -> list[str]:
    """One entry of the `services` list (or of `unattributed.groups`)."""
    inner = indent + INDENT
    lines = [f"{indent}# {_comment(draft.why)}", f"{indent}- name: {scalar(draft.name)}"]
    if draft.team:
        lines.append(f"{inner}team: {scalar(draft.team[0])}  # {_comment(draft.team[1])}")
    if draft.slack_channel:
        value, origin = draft.slack_channel
        lines.append(f"{inner}slack_channel: {scalar(value)}  # {_comment(origin)}")
    for key in ("lambda_functions", "log_groups", "xray_service_names"):
        _list(lines, inner, key, draft.values[key])
    bedrock = draft.values["model_ids"] or draft.guardrails or draft.values["knowledge_bases"]
    if bedrock or draft.invocation_log_group:
        lines.append(f"{inner}bedrock:")
        deeper = inner + INDENT
        _list(lines, deeper, "model_ids", draft.values["model_ids"])
        if draft.guardrails:
            lines.append(f"{deeper}guardrails:")
            for gid, (version, origin) in draft.guardrails.items():
                lines.append(
                    f"{deeper}{INDENT}- {{id: {scalar(gid)}, version: {scalar(version)}}}"
                    f"  # {_comment(origin)}"
                )
        _list(lines, deeper, "knowledge_bases", draft.values["knowledge_bases"])
        if draft.invocation_log_group:
            group, origin = draft.invocation_log_group
            lines.append(f"{deeper}invocation_log_group: {scalar(group)}  # {_comment(origin)}")
    _list(lines, inner, "dependencies", draft.values["dependencies"])
    for alarm, how in draft.alarms.items():
        lines.append(f"{inner}# alarm {alarm} ({_comment(how)})")
    return lines


def render_catalog(
    found: Discovered,
    *,
    region: str,
    tag_key: str,
    notes: list[str],
    at: datetime,
    account: str | None = None,
) -> str:
    where = f"region {region}" + (f", account {account}" if account else "")
    lines = [
        f"# Service catalog written by `llm-incident discover` on {at:%Y-%m-%d %H:%M} UTC",
        f"# ({where}), grouping resources by the tag key `{tag_key}`.",
        "# Each value says where it came from. Review it, add slack_channel where the tags",
        "# did not give one, and point LLM_INCIDENT_CATALOG at this file.",
        "#",
    ]
    if notes:
        lines.append("# Not read (discovery went on without it):")
        lines += [f"#   - {_comment(note)}" for note in notes]
    else:
        lines.append("# Every API discovery uses answered.")
    if found.alarm_checks:
        lines.append(f"# Alarms: {found.alarm_count}; these do not resolve to their own service:")
        lines += [f"#   - {_comment(check)}" for check in found.alarm_checks]
    else:
        lines.append(
            f"# Alarms: every one of the {found.alarm_count} placed resolves to its service."
        )
    if found.advice:
        lines.append("# To decide:")
        lines += [f"#   - {_comment(line)}" for line in found.advice]
    lines.append("")
    if found.services:
        lines.append("services:")
        for draft in found.services.values():
            lines += render_draft(draft, INDENT)
    else:
        lines.append(f"services: []  # no resource carries the tag key `{tag_key}`")
    if found.unattributed or found.loose_alarms or found.loose_resources:
        lines += [
            "",
            f"# Not attributed to a service (no `{tag_key}` tag, not used by a tagged resource).",
            "# The catalog loader ignores this section: tag the resources, or move a group",
            "# under `services:` and name it.",
            "unattributed:",
        ]
        if found.unattributed:
            lines.append(f"{INDENT}groups:")
            for draft in found.unattributed.values():
                lines += render_draft(draft, INDENT * 2)
        if found.loose_alarms:
            lines.append(f"{INDENT}alarms:")
            lines += [
                f"{INDENT * 2}- {scalar(name)}  # {_comment(why)}"
                for name, why in found.loose_alarms.items()
            ]
        if found.loose_resources:
            lines.append(f"{INDENT}resources:")
            lines += [
                f"{INDENT * 2}- {scalar(what)}  # {_comment(why)}"
                for what, why in found.loose_resources
            ]
    if found.other_log_groups:
        lines += ["", f"# {found.other_log_groups} other log groups belong to no group above."]
    return "\n".join(lines) + "\n"
