"""CloudWatch alarms and their dimensions: what the catalog must resolve to a service.

Every metric alarm is listed with its namespace, metric and dimensions; the catalog is
built so that each alarm resolves to the service that owns the resource it watches.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from tools.aws import AwsClients
from tools.discovery.base import Notes, Progress, attempt


class MetricAlarm(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    name: str = Field(alias="AlarmName", min_length=1)
    arn: str = Field(default="", alias="AlarmArn")
    namespace: str = Field(default="", alias="Namespace")
    metric: str = Field(default="", alias="MetricName")
    raw_dimensions: list[dict[str, str]] = Field(default_factory=list, alias="Dimensions")

    @property
    def dimensions(self) -> dict[str, str]:
        return {d["Name"]: d["Value"] for d in self.raw_dimensions if "Name" in d and "Value" in d}


def read_alarms(aws: AwsClients, notes: Notes, progress: Progress) -> list[MetricAlarm]:
    """Every metric alarm of the region (composite alarms watch no resource)."""

    def read() -> list[MetricAlarm]:
        client = aws.client("cloudwatch")
        found: list[MetricAlarm] = []
        pages = client.get_paginator("describe_alarms").paginate(AlarmTypes=["MetricAlarm"])
        for page in pages:
            for raw in page.get("MetricAlarms", []):
                try:
                    found.append(MetricAlarm.model_validate(raw))
                except ValidationError:
                    progress("skipped a malformed DescribeAlarms entry")
            progress(f"alarms: {len(found)}")
        return found

    return attempt(notes, "cloudwatch:DescribeAlarms", read, [], progress)
