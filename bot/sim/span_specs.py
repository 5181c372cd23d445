"""The `spans` block of a scenario (format 1.1): OpenTelemetry span trees and their phases.

An OTel-instrumented agent leaves one JSON event per span in the Transaction Search log
group, and its incidents show in those spans' GenAI attributes (steps per turn, a tool's
error share, finish reasons). A shape here is one kind of trace: a root span, its children
in order (a child may repeat; a `loop` repeats a list of children, which is how agent steps
look), and phases that change rate, durations, repeats, names, attributes and failures over
time. Everything that can be checked without drawing is checked here, so a typo is a load
error that names its field path (`spans[0].phases[1].children`), never a surprise when the
scenario is replayed. Expansion is `bot.sim.expand.spans`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Discriminator, Field, Tag, field_validator, model_validator

from bot.sim.specs import Spec
from bot.sim.syntax import Duration, Offset, Rate, Share, compile_template

SpanKind = Literal["SERVER", "CLIENT", "INTERNAL", "PRODUCER", "CONSUMER"]
Scalar = str | bool | int | float
AttributeValue = Scalar | list[Scalar]


def _flat(value: Any) -> Any:
    """OTel attributes are flat: text, numbers, booleans, or lists of them, never maps."""
    if not isinstance(value, dict):
        return value
    for key, item in value.items():
        items = item if isinstance(item, list) else [item]
        if any(part is None or isinstance(part, dict | list) for part in items):
            raise ValueError(
                f"attribute {key!r}: a span attribute is text, a number, a boolean or a list "
                f"of them, not {type(item).__name__ if item is not None else 'empty'}"
            )
    return value


Attributes = Annotated[dict[str, AttributeValue], BeforeValidator(_flat)]

MAX_REPEAT = 200  # times a child or a loop runs in one trace; more is a typo, not an agent
MAX_SPANS_PER_TRACE = 2_000  # bounds one trace's size whatever the repeats multiply to


def check_templates(values: dict[str, Any], where: str) -> None:
    """Every string of an attribute map, list items too, is a valid template."""
    for key, value in values.items():
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, str):
                try:
                    compile_template(item)
                except ValueError as exc:
                    raise ValueError(f"{where} {key!r}: {exc}") from None


class _Templated(Spec):
    @field_validator("attributes", check_fields=False)
    @classmethod
    def _valid_attributes(cls, value: Attributes) -> Attributes:
        check_templates(value, "attribute")
        return value


class RootSpanSpec(_Templated):
    """The root span of a trace (the agent invocation or the request)."""

    name: str = Field(min_length=1)
    kind: SpanKind = "SERVER"
    duration: Duration
    jitter: float = Field(default=0.0, ge=0.0)
    attributes: Attributes = Field(default_factory=dict)


class ChildSpanSpec(_Templated):
    """A child of the root: one span, run `repeat` times in a row."""

    name: str = Field(min_length=1)
    kind: SpanKind = "INTERNAL"
    duration: Duration
    jitter: float = Field(default=0.0, ge=0.0)
    repeat: int = Field(default=1, ge=0, le=MAX_REPEAT)
    attributes: Attributes = Field(default_factory=dict)


class LoopHead(Spec):
    name: str = Field(min_length=1)
    repeat: int = Field(default=1, ge=0, le=MAX_REPEAT)


class LoopSpec(Spec):
    """A list of children run `repeat` times in order (chat, tool, chat, tool, ...)."""

    loop: LoopHead
    children: list[ChildSpanSpec] = Field(min_length=1)

    @field_validator("children", mode="before")
    @classmethod
    def _no_nested_loops(cls, value: Any) -> Any:
        if isinstance(value, list) and any(isinstance(c, dict) and "loop" in c for c in value):
            raise ValueError("a loop's children are spans; a loop inside a loop is not supported")
        return value


def _child_tag(value: Any) -> str:
    if isinstance(value, dict):
        return "loop" if "loop" in value else "span"
    return "loop" if isinstance(value, LoopSpec) else "span"


Child = Annotated[
    Annotated[ChildSpanSpec, Tag("span")] | Annotated[LoopSpec, Tag("loop")],
    Discriminator(_child_tag),
]


class SpanOverride(_Templated):
    """How the root, a child or a loop behaves during a phase; unset keys keep the base."""

    name: str | None = Field(default=None, min_length=1)
    duration: Duration | None = None
    jitter: float | None = Field(default=None, ge=0.0)
    repeat: int | None = Field(default=None, ge=0, le=MAX_REPEAT)
    attributes: Attributes = Field(default_factory=dict)
    error: Share = 0.0
    error_type: str | None = Field(default=None, min_length=1)
    message: str | None = None
    propagate: bool = True

    @field_validator("error_type", "message")
    @classmethod
    def _valid_template(cls, value: str | None) -> str | None:
        if value is not None:
            compile_template(value)
        return value


class SpanPhaseSpec(Spec):
    start: Offset | None = Field(default=None, alias="from")
    end: Offset | None = Field(default=None, alias="to")
    rate: Rate | None = None
    root: SpanOverride | None = None
    children: dict[str, SpanOverride] = Field(default_factory=dict)

    @field_validator("children", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return {} if value is None else value


class SpanShapeSpec(Spec):
    """One kind of span tree, emitted at `rate` traces over the scenario's window."""

    name: str = Field(min_length=1)
    rate: Rate
    service: str = Field(min_length=1)
    scope: str = Field(default="strands.telemetry.tracer", min_length=1)
    resource: Attributes = Field(default_factory=dict)
    root: RootSpanSpec
    children: list[Child] = Field(default_factory=list)
    phases: list[SpanPhaseSpec] = Field(default_factory=list)

    @field_validator("children", "phases", mode="before")
    @classmethod
    def _none_is_empty(cls, value: Any) -> Any:
        return [] if value is None else value

    @field_validator("resource")
    @classmethod
    def _valid_resource(cls, value: Attributes) -> Attributes:
        check_templates(value, "resource attribute")
        return value

    def base_names(self) -> set[str]:
        """The names a phase may use: each child's and loop's, and each loop child's."""
        names: set[str] = set()
        for child in self.children:
            if isinstance(child, LoopSpec):
                names.add(child.loop.name)
                names.update(inner.name for inner in child.children)
            else:
                names.add(child.name)
        return names

    @model_validator(mode="after")
    def _phases_name_children(self) -> SpanShapeSpec:
        known = self.base_names()
        for index, phase in enumerate(self.phases):
            for name in phase.children:
                if name not in known:
                    raise ValueError(
                        f"phases[{index}].children names {name!r}, which is not a child or "
                        f"loop of the shape ({', '.join(sorted(known)) or 'none'})"
                    )
            if phase.root is not None and phase.root.repeat is not None:
                raise ValueError(f"phases[{index}].root: the root span cannot repeat")
        worst = _most_spans(self)
        if worst > MAX_SPANS_PER_TRACE:
            raise ValueError(
                f"one trace could hold {worst} spans with these repeats; at most "
                f"{MAX_SPANS_PER_TRACE} are allowed"
            )
        return self


def _most_spans(shape: SpanShapeSpec) -> int:
    """The largest span count of one trace over the base shape and every phase's repeats."""
    repeats: dict[str, int] = {}
    for phase in shape.phases:
        for name, override in phase.children.items():
            if override.repeat is not None:
                repeats[name] = max(repeats.get(name, 0), override.repeat)
    total = 1
    for child in shape.children:
        if isinstance(child, LoopSpec):
            times = max(child.loop.repeat, repeats.get(child.loop.name, 0))
            inner = sum(max(c.repeat, repeats.get(c.name, 0)) for c in child.children)
            total += times * inner
        else:
            total += max(child.repeat, repeats.get(child.name, 0))
    return total
