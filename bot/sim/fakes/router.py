"""One AWS endpoint on loopback: the fakes for what moto lacks, moto for the rest.

The tools take one endpoint URL for every service, so the fakes are put in front of the
emulator: CloudWatch Logs requests (`X-Amz-Target: Logs_20140328.*`) go to the fake
Logs endpoint (`bot.sim.fakes.logs`: Logs Insights), X-Ray's REST paths to the fake X-Ray
(`bot.sim.fakes.xray`: filter expressions, sampling, unprocessed ids), CloudTrail to the
fake `LookupEvents`, and everything else (CloudWatch metrics and alarms) is forwarded to
moto unchanged. Each request's operation is counted in `calls`, which is how the
benchmarks report AWS calls by API.
"""

from __future__ import annotations

from collections import Counter
from urllib.parse import parse_qs

from bot.sim.fakes.http import Handler, latency_proxy

XRAY_PATHS = {
    "/TraceSegments": "PutTraceSegments",
    "/TraceSummaries": "GetTraceSummaries",
    "/Traces": "BatchGetTraces",
    "/TraceIds": "GetTraceIds",
    "/GetTraceSegmentDestination": "GetTraceSegmentDestination",
}


def operation_of(path: str, headers: dict[str, str], body: bytes) -> str:
    """The API operation a request calls, whatever its protocol."""
    lowered = {k.lower(): v for k, v in headers.items()}
    target = lowered.get("x-amz-target", "")
    if target:
        return target.rsplit(".", 1)[-1]
    bare = path.split("?", 1)[0]
    if "/operation/" in bare:  # smithy RPC v2 (CloudWatch)
        return bare.rsplit("/", 1)[-1]
    if bare in XRAY_PATHS:
        return XRAY_PATHS[bare]
    action = parse_qs(body.decode("utf-8", "replace")).get("Action")
    return action[0] if action else bare


def aws_router(
    moto_url: str,
    logs: Handler | None = None,
    xray: Handler | None = None,
    cloudtrail: Handler | None = None,
    calls: Counter[str] | None = None,
) -> Handler:
    """A handler for `bot.sim.fakes.http.serve`: fakes first, moto for the rest."""
    forward = latency_proxy(moto_url, 0.0)

    def handle(path: str, headers: dict[str, str], body: bytes):
        lowered = {k.lower(): v for k, v in headers.items()}
        target = lowered.get("x-amz-target", "")
        if calls is not None:
            calls[operation_of(path, headers, body)] += 1
        if logs is not None and target.startswith("Logs_"):
            return logs(path, {**headers, "X-Amz-Target": target}, body)
        if xray is not None and path.split("?", 1)[0] in XRAY_PATHS:
            return xray(path, headers, body)
        if cloudtrail is not None and "CloudTrail" in target:
            return cloudtrail(path, {**headers, "X-Amz-Target": target}, body)
        return forward(path, headers, body)

    return handle
