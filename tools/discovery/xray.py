"""The X-Ray service graph: which services call which, for the catalog's dependencies.

`GetServiceGraph` over the last hours gives every node that sent or received traced
calls and its edges. An account without tracing (or an emulator) gives an empty graph:
discovery then says so and leaves `dependencies` to the roles' policies.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pydantic import BaseModel, Field

from tools.aws import AwsClients
from tools.discovery.base import Note, Notes, Progress, attempt

GRAPH_HOURS = 6


class GraphNode(BaseModel):
    reference: int
    name: str
    kind: str = ""  # the node's Type: AWS::Lambda::Function, AWS::DynamoDB::Table, remote, ...
    calls: list[int] = Field(default_factory=list)  # the nodes its edges point to


class ServiceGraph(BaseModel):
    nodes: dict[int, GraphNode] = Field(default_factory=dict)

    def downstream(self, name: str) -> list[GraphNode]:
        """The nodes a node of this name calls."""
        found: list[GraphNode] = []
        for node in self.nodes.values():
            if node.name == name:
                found += [self.nodes[r] for r in node.calls if r in self.nodes]
        return found


def read_service_graph(
    aws: AwsClients, notes: Notes, progress: Progress, now: datetime | None = None
) -> ServiceGraph:
    end = now or datetime.now(UTC)

    def read() -> ServiceGraph:
        client = aws.client("xray")
        graph = ServiceGraph()
        pages = client.get_paginator("get_service_graph").paginate(
            StartTime=end - timedelta(hours=GRAPH_HOURS), EndTime=end
        )
        for page in pages:
            for raw in page.get("Services", []):
                if raw.get("ReferenceId") is None or not raw.get("Name"):
                    continue
                graph.nodes[int(raw["ReferenceId"])] = GraphNode(
                    reference=int(raw["ReferenceId"]),
                    name=raw["Name"],
                    kind=raw.get("Type", ""),
                    calls=[
                        int(e["ReferenceId"]) for e in raw.get("Edges", []) if "ReferenceId" in e
                    ],
                )
        progress(f"X-Ray service graph: {len(graph.nodes)} nodes")
        return graph

    graph = attempt(notes, "xray:GetServiceGraph", read, ServiceGraph(), progress)
    if not graph.nodes and not any(n.api == "xray:GetServiceGraph" for n in notes.items):
        note = Note(
            "xray:GetServiceGraph",
            f"empty over the last {GRAPH_HOURS} hours (no traced calls): dependencies come "
            "from IAM policies only",
            "unsupported",
        )
        notes.items.append(note)
        progress(f"skipped {note.line()}")
    return graph
