"""Which CloudWatch series belong to a service: found with ListMetrics, filtered.

An account can hold hundreds of thousands of series; listing them all and keeping the
service's is too slow, and twenty unfiltered pages miss them. So each resource of the
service is looked up by its namespace and dimension (`resource_lookups`: a function's
`FunctionName` in AWS/Lambda, a model's `ModelId` in AWS/Bedrock, a table's `TableName`
in AWS/DynamoDB, a cache's node ids in AWS/ElastiCache, a `Service` dimension anywhere),
and only custom namespaces, whose names no catalog gives, are found by a short unfiltered
sweep that says when it was cut.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from tools.aws import AwsClients
from tools.metrics import MAX_SERIES, MetricRef, short_name


def _matches_service(ref: MetricRef, service_name: str, names: set[str]) -> bool:
    values = {short_name(v) for v in ref.dimensions.values()}
    if values & names:
        return True
    # Node and shard ids extend the resource's name: `answers-cache` -> `answers-cache-001`.
    long_names = [name for name in names if len(name) >= 6]
    if any(value.startswith(name) for value in values for name in long_names):
        return True
    squashed = re.sub(r"[^a-z0-9]", "", service_name.lower())
    namespace = re.sub(r"[^a-z0-9]", "", ref.namespace.lower())
    return not ref.namespace.startswith("AWS/") and bool(squashed) and squashed in namespace


MAX_PAGES_PER_LOOKUP = 10  # ListMetrics pages (500 series each) per filtered lookup
SWEEP_PAGES = 5  # unfiltered ListMetrics pages read for custom namespaces


# Where each kind of dependency (`kind:name` in the catalog) has its metrics, and whether
# the dimension's value only starts with the name (cache nodes: `answers-cache-001`).
DEPENDENCY_METRICS: dict[str, list[tuple[str, str, bool]]] = {
    "dynamodb": [("AWS/DynamoDB", "TableName", False)],
    "sqs": [("AWS/SQS", "QueueName", False)],
    "s3": [("AWS/S3", "BucketName", False)],
    "aoss": [("AWS/AOSS", "CollectionName", False)],
    "opensearch": [("AWS/ES", "DomainName", False)],
    "elasticache": [("AWS/ElastiCache", "CacheClusterId", True)],
    "redis": [("AWS/ElastiCache", "CacheClusterId", True)],
    "memorydb": [("AWS/MemoryDB", "ClusterName", False)],
    "rds": [("AWS/RDS", "DBClusterIdentifier", False), ("AWS/RDS", "DBInstanceIdentifier", True)],
    "aurora": [("AWS/RDS", "DBClusterIdentifier", False)],
    "aurora-postgresql": [("AWS/RDS", "DBClusterIdentifier", False)],
    "aurora-mysql": [("AWS/RDS", "DBClusterIdentifier", False)],
    "apigateway": [("AWS/ApiGateway", "ApiName", False)],
    "kinesis": [("AWS/Kinesis", "StreamName", False)],
    "lambda": [("AWS/Lambda", "FunctionName", False)],
}


@dataclass(frozen=True)
class MetricLookup:
    """One filtered ListMetrics: a namespace (or all), a dimension, and its value (or any
    value, kept when it starts with or ends with `match`)."""

    namespace: str | None
    dimension: str
    value: str | None = None
    match: str | None = None  # client-side: the value starts with it (or an ARN ends with it)

    def kwargs(self) -> dict[str, Any]:
        dimension: dict[str, str] = {"Name": self.dimension}
        if self.value is not None:
            dimension["Value"] = self.value
        found: dict[str, Any] = {"Dimensions": [dimension]}
        if self.namespace:
            found["Namespace"] = self.namespace
        return found

    def keeps(self, ref: MetricRef) -> bool:
        if self.match is None:
            return True
        value = ref.dimensions.get(self.dimension, "")
        return value.startswith(self.match) or short_name(value) == self.match


def resource_lookups(
    service_name: str,
    functions: list[str],
    models: list[str],
    guardrails: list[str],
    dependencies: list[str],
) -> list[MetricLookup]:
    """The filtered ListMetrics calls that find a service's series."""
    found = [MetricLookup(None, "Service", service_name)]
    found += [MetricLookup("AWS/Lambda", "FunctionName", name) for name in functions]
    found += [MetricLookup("AWS/Bedrock", "ModelId", name) for name in models]
    if guardrails:
        namespace = "AWS/Bedrock/Guardrails"
        found += [MetricLookup(namespace, "GuardrailArn", None, gid) for gid in guardrails]
    for entry in dependencies:
        kind, _, name = entry.partition(":")
        name = name.split(" ", 1)[0].strip()
        if not name or "//" in entry:
            continue
        for namespace, dimension, prefix in DEPENDENCY_METRICS.get(kind.lower(), []):
            if prefix:
                found.append(MetricLookup(namespace, dimension, None, name))
            else:
                found.append(MetricLookup(namespace, dimension, name))
    return list(dict.fromkeys(found))


def _list(aws: AwsClients, kwargs: dict[str, Any], max_pages: int) -> tuple[list[MetricRef], bool]:
    """ListMetrics pages with these filters; and whether pages were left unread."""
    client = aws.client("cloudwatch")
    refs: list[MetricRef] = []
    for _ in range(max_pages):
        page = client.list_metrics(**kwargs)
        for metric in page.get("Metrics", []):
            refs.append(
                MetricRef(
                    namespace=metric["Namespace"],
                    name=metric["MetricName"],
                    dimensions={d["Name"]: d["Value"] for d in metric.get("Dimensions", [])},
                )
            )
        token = page.get("NextToken")
        if not token:
            return refs, False
        kwargs = {**kwargs, "NextToken": token}
    return refs, True


def discover(
    aws: AwsClients,
    alarm_ref: MetricRef,
    service_name: str | None,
    resource_names: list[str],
    lookups: list[MetricLookup] | None = None,
    notes: list[str] | None = None,
) -> list[MetricRef]:
    """The series worth looking at: the alarm's own; every series of the service's
    resources, found with ListMetrics filtered by namespace and dimension (`lookups`);
    and, from a bounded unfiltered sweep, series in a custom namespace named after the
    service or naming one of its resources. A sweep cut short is noted."""
    found: dict[Any, MetricRef] = {alarm_ref.key: alarm_ref}
    if service_name is None:
        return list(found.values())
    names = {service_name, *resource_names}
    jobs: list[tuple[MetricLookup | None, dict[str, Any], int]] = [
        (lookup, lookup.kwargs(), MAX_PAGES_PER_LOOKUP) for lookup in lookups or []
    ]
    jobs.append((None, {"RecentlyActive": "PT3H"}, SWEEP_PAGES))
    with ThreadPoolExecutor(max_workers=min(8, len(jobs))) as pool:
        results = list(pool.map(lambda job: _list(aws, job[1], job[2]), jobs))
    for (lookup, _, _), (refs, cut) in zip(jobs, results, strict=True):
        for ref in refs:
            wanted = lookup.keeps(ref) if lookup else _matches_service(ref, service_name, names)
            if wanted:
                found.setdefault(ref.key, ref)
        if cut and notes is not None:
            what = (
                f"{lookup.namespace or 'all namespaces'} {lookup.dimension}"
                if lookup
                else ("custom namespaces (unfiltered)")
            )
            notes.append(f"ListMetrics for {what}: first {SWEEP_PAGES} pages read (cut)")
    refs = list(found.values())
    return refs[:MAX_SERIES]
