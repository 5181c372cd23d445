"""Resource tags, account-wide: the tag key `service` (or another) groups resources.

`GetResources` of the Resource Groups Tagging API returns every tagged resource of the
region with its tags in one paginated call, whatever service owns it.
"""

from __future__ import annotations

from tools.aws import AwsClients
from tools.discovery.base import Notes, Progress, attempt


def read_tags(aws: AwsClients, notes: Notes, progress: Progress) -> dict[str, dict[str, str]]:
    """Resource ARN -> its tags, for every tagged resource of the region."""

    def read() -> dict[str, dict[str, str]]:
        client = aws.client("resourcegroupstaggingapi")
        found: dict[str, dict[str, str]] = {}
        for page in client.get_paginator("get_resources").paginate(ResourcesPerPage=100):
            for mapping in page.get("ResourceTagMappingList", []):
                arn = mapping.get("ResourceARN")
                if arn:
                    found[arn] = {
                        t["Key"]: t.get("Value", "") for t in mapping.get("Tags", []) if "Key" in t
                    }
            progress(f"tagged resources: {len(found)}")
        return found

    return attempt(notes, "tag:GetResources", read, {}, progress)
