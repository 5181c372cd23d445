"""From an account's inventory to catalog entries: group by tag, then follow the links.

A resource tagged with the tag key (`service` unless `--tag-key` says otherwise) belongs
to the service the tag names. What a tagged function or AgentCore runtime uses joins its
service: its log group, the models, guardrails and knowledge bases its environment or role
names, the tables its role may use, and the nodes the X-Ray graph shows it calling.
A function or runtime with no tag starts a group of its own, which the catalog lists apart
as unattributed, for a person to name; so do Bedrock resources that nothing tagged uses.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.engine.discovery.draft import Draft
from tools.discovery import Inventory
from tools.discovery.references import Reference

TEAM_TAGS = ("team", "Team", "owner-team")
CHANNEL_TAGS = ("slack-channel", "slack_channel", "SlackChannel")
_GRAPH_KINDS = {  # X-Ray node types -> the `kind:` of a catalog dependency
    "AWS::DynamoDB::Table": "dynamodb",
    "AWS::DynamoDB": "dynamodb",
    "AWS::SQS::Queue": "sqs",
    "AWS::SNS": "sns",
    "AWS::S3::Bucket": "s3",
    "AWS::S3": "s3",
    "remote": "http",
}


def resource_key(arn: str) -> tuple[str, str] | None:
    """A tagged resource's ARN -> (kind, name) as the rest of discovery names it."""
    if ":function:" in arn:
        return "function", arn.split(":function:", 1)[1].split(":", 1)[0]
    if ":log-group:" in arn:
        return "log_group", arn.split(":log-group:", 1)[1].removesuffix(":*")
    if ":alarm:" in arn:
        return "alarm", arn.split(":alarm:", 1)[1]
    kinds = {
        "guardrail/": "guardrail",
        "knowledge-base/": "knowledge_base",
        "provisioned-model/": "provisioned",
        "application-inference-profile/": "model",
        ":runtime/": "runtime",
        ":table/": "dynamodb",
    }
    for marker, kind in kinds.items():
        if marker in arn:
            return kind, arn.split(marker, 1)[1].split("/", 1)[0]
    return None


@dataclass
class Discovered:
    """The catalog discovery proposes, and what it could not place."""

    services: dict[str, Draft] = field(default_factory=dict)
    unattributed: dict[str, Draft] = field(default_factory=dict)
    loose_alarms: dict[str, str] = field(default_factory=dict)  # name -> why unplaced
    loose_resources: list[tuple[str, str]] = field(default_factory=list)  # (what, why)
    other_log_groups: int = 0
    alarm_checks: list[str] = field(default_factory=list)  # filled by bot.engine.discovery
    advice: list[str] = field(default_factory=list)  # what a person should decide
    alarm_count: int = 0


class _Builder:
    def __init__(self, inventory: Inventory, tag_key: str) -> None:
        self.inv = inventory
        self.tag_key = tag_key
        self.found = Discovered()
        self.owner: dict[tuple[str, str], str] = {}
        self.extra: dict[tuple[str, str], dict[str, str]] = {}
        for arn, tags in inventory.tags.items():
            key = resource_key(arn)
            if key is None:
                continue
            self.extra[key] = tags
            if tags.get(tag_key):
                self.owner[key] = tags[tag_key]
        self.existing_groups = set(inventory.log_groups or [])
        self.placed: set[tuple[str, str]] = set()

    # -- groups ----------------------------------------------------------------------
    def group_of(self, key: tuple[str, str], label: str, proposed: str | None = None) -> Draft:
        service = self.owner.get(key)
        if service:
            draft = self.found.services.get(service)
            if draft is None:
                why = f"resources tagged {self.tag_key}={service}"
                draft = self.found.services[service] = Draft(service, why)
            self._labels(draft, key, label)
            return draft
        name = proposed or key[1]
        while name in self.found.unattributed and self.found.unattributed[name].why != label:
            name += "-2"
        draft = self.found.unattributed.setdefault(
            name, Draft(name, f"proposed from {label}, which has no {self.tag_key} tag")
        )
        self._labels(draft, key, label)
        return draft

    def _labels(self, draft: Draft, key: tuple[str, str], label: str) -> None:
        """The team and channel tags of a group's resources, when they agree."""
        tags = self.extra.get(key, {})
        for attr, names in (("team", TEAM_TAGS), ("slack_channel", CHANNEL_TAGS)):
            value = next((tags[n] for n in names if tags.get(n)), None)
            if value and getattr(draft, attr) is None:
                setattr(draft, attr, (value, f"tag on {label}"))

    def tag_origin(self, key: tuple[str, str], what: str) -> str:
        service = self.owner.get(key)
        return f"{what} tagged {self.tag_key}={service}" if service else f"{what}, untagged"

    # -- resources -------------------------------------------------------------------
    def functions(self) -> None:
        for fn in self.inv.functions:
            key = ("function", fn.name)
            draft = self.group_of(key, f"Lambda function {fn.name}")
            self.placed.add(key)
            draft.add("lambda_functions", fn.name, self.tag_origin(key, "Lambda function"))
            self.log_group(draft, fn.log_group, f"log group of {fn.name}")
            if fn.traced:
                draft.add("xray_service_names", fn.name, f"active tracing on {fn.name}")
            role = self.inv.roles.get(fn.role_arn)
            refs = fn.references + (role.references if role else [])
            self.references(draft, refs, fn.name)

    def runtimes(self) -> None:
        for runtime in self.inv.runtimes:
            key = ("runtime", runtime.id)
            label = f"AgentCore runtime {runtime.name or runtime.id}"
            draft = self.group_of(key, label, runtime.name or None)
            self.placed.add(key)
            for group in sorted(self.existing_groups):
                if group.startswith(runtime.log_group_prefix):
                    draft.add("log_groups", group, f"log group of {label}")
            role = self.inv.roles.get(runtime.role_arn)
            refs = runtime.references + (role.references if role else [])
            self.references(draft, refs, runtime.name or runtime.id)

    def log_group(self, draft: Draft, group: str, origin: str) -> None:
        if self.inv.log_groups is None:
            draft.add("log_groups", group, f"{origin} (log groups not listed: assumed)")
        elif group in self.existing_groups:
            draft.add("log_groups", group, origin)
            self.placed.add(("log_group", group))

    def references(self, draft: Draft, refs: list[Reference], user: str) -> None:
        bedrock = self.inv.bedrock
        guardrail_versions = {g.id: g.version for g in bedrock.guardrails}
        profiles = {p.id: p for p in bedrock.inference_profiles}
        provisioned = {p.id: p for p in bedrock.provisioned}
        bases = {k.id: k for k in bedrock.knowledge_bases}
        for ref in refs:
            origin = f"{ref.origin} of {user}" if ref.origin.startswith("env") else ref.origin
            self.placed.add((ref.kind, ref.value))
            if ref.kind == "model":
                profile = profiles.get(ref.value)
                routes = f"; routes to {', '.join(profile.models)}" if profile else ""
                draft.add("model_ids", ref.value, origin + routes)
            elif ref.kind == "provisioned":
                found = provisioned.get(ref.value)
                what = f"; provisioned throughput {found.name} of {found.model}" if found else ""
                draft.add("model_ids", ref.value, origin + what)
            elif ref.kind == "guardrail":
                version = ref.version or guardrail_versions.get(ref.value)
                said = (
                    ""
                    if ref.version
                    else ("; highest listed version" if version else "; version not named: DRAFT")
                )
                draft.add_guardrail(ref.value, version or "DRAFT", origin + said)
            elif ref.kind == "knowledge_base":
                base = bases.get(ref.value)
                sources = (
                    f"; data sources {', '.join(base.data_sources)}"
                    if base and base.data_sources
                    else ""
                )
                draft.add("knowledge_bases", ref.value, origin + sources)
            elif ref.kind == "dynamodb":
                draft.add("dependencies", f"dynamodb:{ref.value}", origin)

    def tagged_leftovers(self) -> None:
        """Tagged resources no function or runtime uses still belong to their service."""
        for key in sorted(self.owner):
            kind, name = key
            if key in self.placed or kind in ("alarm", "function", "runtime"):
                continue
            draft = self.group_of(key, f"{kind.replace('_', ' ')} {name}")
            origin = self.tag_origin(key, kind.replace("_", " "))
            if kind == "log_group":
                draft.add("log_groups", name, origin)
            elif kind == "guardrail":
                version = next(
                    (g.version for g in self.inv.bedrock.guardrails if g.id == name), "DRAFT"
                )
                draft.add_guardrail(name, version, origin)
            elif kind == "knowledge_base":
                draft.add("knowledge_bases", name, origin)
            elif kind in ("model", "provisioned"):
                draft.add("model_ids", name, origin)
            elif kind == "dynamodb":
                draft.add("dependencies", f"dynamodb:{name}", origin)
            self.placed.add(key)

    def untagged_leftovers(self) -> None:
        """Bedrock resources of the account that no group uses: listed for a person."""
        bedrock = self.inv.bedrock
        candidates = [("guardrail", g.id, g.name) for g in bedrock.guardrails]
        candidates += [("knowledge_base", k.id, k.name) for k in bedrock.knowledge_bases]
        candidates += [("provisioned", p.id, p.name) for p in bedrock.provisioned]
        for kind, rid, name in candidates:
            if (kind, rid) not in self.placed:
                what = f"{kind.replace('_', ' ')} {rid}" + (f" ({name})" if name else "")
                why = f"no {self.tag_key} tag, and no function or runtime names it"
                self.found.loose_resources.append((what, why))
        used = {g for d in self.all_drafts() for g in d.values["log_groups"]}
        self.found.other_log_groups = len(self.existing_groups - used)

    def graph(self) -> None:
        for draft in self.all_drafts():
            names = [*draft.values["xray_service_names"], *draft.values["lambda_functions"]]
            for name in dict.fromkeys(names):
                for node in self.inv.graph.downstream(name):
                    kind = _GRAPH_KINDS.get(node.kind)
                    if kind:
                        draft.add("dependencies", f"{kind}:{node.name}", f"X-Ray: {name} calls it")

    def invocation_log(self) -> None:
        """The model invocation log is one per account and region, and an investigation
        reads a service's invocation log group whole: it goes to the service its tag
        names, or to the only service calling Bedrock; shared, it is left to a person."""
        group = self.inv.bedrock.invocation_log_group
        if not group:
            return
        key = ("log_group", group)
        self.placed.add(key)
        origin = "the account's model invocation log"
        if key in self.owner:
            draft = self.group_of(key, f"log group {group}")
            draft.invocation_log_group = (group, f"{origin}, tagged {self.tag_key}={draft.name}")
            return
        users = [d for d in self.all_drafts() if d.values["model_ids"]]
        if len(users) == 1:
            users[0].invocation_log_group = (group, f"{origin}; the only service calling Bedrock")
        elif users:
            self.found.advice.append(
                f"Bedrock logs model invocations of {len(users)} groups to {group}; it is "
                "read whole, so set bedrock.invocation_log_group only on the service(s) whose "
                f"guardrail and token evidence should include it (or tag it {self.tag_key}=…)"
            )

    def all_drafts(self) -> list[Draft]:
        return [*self.found.services.values(), *self.found.unattributed.values()]


def group_inventory(inventory: Inventory, tag_key: str = "service") -> Discovered:
    """Services and unattributed groups from what discovery read (alarms placed later)."""
    builder = _Builder(inventory, tag_key)
    builder.functions()
    builder.runtimes()
    builder.invocation_log()
    builder.tagged_leftovers()
    builder.graph()
    builder.untagged_leftovers()
    return builder.found


def alarm_owner(inventory: Inventory, tag_key: str) -> dict[str, str]:
    """Alarm name -> the service its own tag names."""
    found: dict[str, str] = {}
    for arn, tags in inventory.tags.items():
        key = resource_key(arn)
        if key and key[0] == "alarm" and tags.get(tag_key):
            found[key[1]] = tags[tag_key]
    return found
