"""A catalog entry while discovery builds it: every value with the reason it is there.

The catalog `discover` writes comments each value with its origin (`# tag service=chat on
the function`, `# env MODEL_ID of chat-api`), so a reviewer can tell a tagged fact from an
inference. A `Draft` keeps those origins beside the values until the YAML is written.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from bot.models import BedrockConfig, GuardrailRef, ServiceEntry

LIST_FIELDS = (
    "lambda_functions",
    "log_groups",
    "xray_service_names",
    "model_ids",
    "knowledge_bases",
    "dependencies",
)


@dataclass
class Draft:
    """One service (or one group discovery could not attribute) being assembled."""

    name: str
    why: str  # the entry's own comment: how the group was formed
    team: tuple[str, str] | None = None  # (value, origin)
    slack_channel: tuple[str, str] | None = None
    values: dict[str, dict[str, str]] = field(
        default_factory=lambda: {name: {} for name in LIST_FIELDS}
    )
    guardrails: dict[str, tuple[str, str]] = field(default_factory=dict)  # id -> (version, origin)
    invocation_log_group: tuple[str, str] | None = None
    alarms: dict[str, str] = field(default_factory=dict)  # alarm name -> how it was attributed

    def add(self, kind: str, value: str, origin: str) -> None:
        """Add a value once; the first origin found is the one kept."""
        if value:
            self.values[kind].setdefault(value, origin)

    def add_guardrail(self, guardrail_id: str, version: str, origin: str) -> None:
        self.guardrails.setdefault(guardrail_id, (version, origin))

    def names(self) -> set[str]:
        """The resource names an alarm dimension may carry, as the catalog matches them."""
        return {self.name, *self.entry().resource_names()}

    def entry(self) -> ServiceEntry:
        return ServiceEntry(
            name=self.name,
            team=self.team[0] if self.team else "",
            slack_channel=self.slack_channel[0] if self.slack_channel else None,
            lambda_functions=list(self.values["lambda_functions"]),
            log_groups=list(self.values["log_groups"]),
            xray_service_names=list(self.values["xray_service_names"]),
            bedrock=BedrockConfig(
                model_ids=list(self.values["model_ids"]),
                guardrails=[
                    GuardrailRef(id=gid, version=version)
                    for gid, (version, _) in self.guardrails.items()
                ],
                knowledge_bases=list(self.values["knowledge_bases"]),
                invocation_log_group=self.invocation_log_group[0]
                if self.invocation_log_group
                else None,
            ),
            dependencies=list(self.values["dependencies"]),
        )
