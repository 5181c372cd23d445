"""Each triage signal holds on real wording: everyday text sharing a word with a failure
phrase is not a failure, a steady background is never a cause, and a change is blamed only
when it could have caused what broke, near the onset. The features are built from real
log lines (run through the log tool's own level and marker readers) and real CloudTrail
event names; each test names the fragile rule it pins."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from bot.engine.features import Failure, Features, change_kind, grew, is_prompt_key, share_grew
from bot.engine.triage.changes import bad_deployment, prompt_regression
from bot.engine.triage.downstream import (
    compute_saturation,
    dependency_failure,
    retrieval_failure,
)
from bot.engine.triage.provider import (
    access_denied,
    input_validation_errors,
    model_provider_degradation,
)
from bot.engine.triage.score import slower
from bot.engine.triage.usage import token_cost_spike
from tools.base import TimeRange
from tools.changes import Change
from tools.guardrail_records import InvocationLogStats
from tools.logs import LambdaReports
from tools.logs.lambda_reports import parse_report
from tools.logs.patterns import Pattern
from tools.logs.records import failure_markers, level_of
from tools.metrics import MetricRef, SeriesSummary
from tools.traces.segments import SegmentChange, SegmentStats

T0 = datetime.fromisoformat("2026-11-20T12:00:00+00:00")
WINDOW = TimeRange(
    start=T0 - timedelta(minutes=60),
    end=T0 + timedelta(minutes=5),
    onset=T0 - timedelta(minutes=10),
    t0=T0,
)
FUNCTION = "quote-api"


def at(minutes: float) -> datetime:
    """T0 plus `minutes` (negative: before the alarm)."""
    return T0 + timedelta(minutes=minutes)


def pattern(line: str, before: int, after: int, first: float = -50, status: str = "") -> Pattern:
    """A log pattern of one real line, with counts before and since onset."""
    if not status:
        status = "new" if before == 0 else "grown" if after > 3 * before else "steady"
    return Pattern(
        group=f"/aws/lambda/{FUNCTION}",
        template=line,
        level=level_of(line),
        baseline=before,
        recent=after,
        first_seen=at(first),
        sample=line,
        markers=failure_markers(line),
        status=status,
    )


def features(*patterns: Pattern, **fields) -> Features:
    f = Features(window=WINDOW, **fields)
    for p in patterns:
        if p.status == "steady":
            if p.shifts:
                f.shifted.append(p)
            continue
        f.changed_patterns.append(p)
        if p.status in ("new", "grown") and (p.markers or p.level in ("ERROR", "WARN")):
            f.failures.append(Failure(p, p.markers))
    f.patterns = list(patterns)
    return f


def series(name: str, before: float, after: float, namespace: str = "AWS/Bedrock", **dims):
    return SeriesSummary(
        ref=MetricRef(namespace=namespace, name=name, dimensions=dims),
        statistic="Sum",
        period=60,
        points=[],
        baseline=before,
        recent=after,
        peak=after,
        change_at=WINDOW.onset,
        anomalous=True,
        score=5.0,
    )


def change(
    name: str, minutes: float, source: str = "lambda.amazonaws.com", related=True, **request
):
    return Change(
        at=at(minutes),
        source=source,
        name=name,
        user="arn:aws:sts::111122223333:assumed-role/deploy/ci",
        resources=[FUNCTION],
        request={"functionName": FUNCTION, **request},
        related=related,
    )


# -- word boundaries -----------------------------------------------------------------


def test_oom_does_not_fire_on_war_room_or_zoom():
    """Fragile rule: "OOM" matched as a substring of `war-room` and `zoom`."""
    chatter = pattern("[WARN] 2026-11-20T11:55:00Z abc on-call joined war-room via zoom", 0, 40)
    assert compute_saturation(features(chatter)).value == 0
    killed = pattern(
        "RequestId: 96a9d320 Error: Runtime exited with error: signal: killed Runtime.ExitError",
        0,
        12,
    )
    assert compute_saturation(features(killed)).value >= 0.6


def test_too_long_to_render_is_not_an_oversized_prompt():
    """Fragile rule: "too long" fired on "request took too long to render"."""
    slow = pattern("[WARN] 2026-11-20T11:55:00Z abc request took too long to render", 1, 60)
    assert input_validation_errors(features(slow)).value == 0
    real = pattern(
        "[ERROR] EventStreamError: An error occurred (validationException) when calling the "
        "InvokeModelWithResponseStream operation: Input is too long for requested model.",
        0,
        30,
    )
    assert input_validation_errors(features(real)).value >= 0.6


def test_connection_refused_is_not_a_refusal():
    """Fragile rule: "refus" (a refused answer) fired on `Connection refused`."""
    refused = pattern(
        "[ERROR] 2026-11-20T11:55:00Z abc redis.exceptions.ConnectionError: Error 111 "
        "connecting to cache:6379. Connection refused.",
        0,
        40,
    )
    f = features(refused)
    assert prompt_regression(f).value == 0
    assert dependency_failure(f).value > 0


def test_user_agent_and_step_fields_are_not_an_agent_loop():
    """Fragile rule: "agent", "loop", "step" fired on `user_agent=...` and `step=3 loop=ok`."""
    access = pattern(
        "[INFO] 2026-11-20T11:55:00Z abc GET /v1/quote user_agent=python-requests/2.31 "
        "step=3 loop=ok",
        2,
        80,
    )
    tokens = [series("InputTokenCount", 20000, 90000, ModelId="m")]
    assert not any(
        "user_agent" in line for line in token_cost_spike(features(access, series=tokens)).lines
    )
    looping = pattern(
        "[INFO] 2026-11-20T11:55:00Z abc agent step 14/25 tool_use search_orders", 5, 300
    )
    assert any(
        "agent step" in line for line in token_cost_spike(features(looping, series=tokens)).lines
    )


def test_a_traceback_does_not_make_a_provider_validation_error_a_code_error():
    """Fragile rule: `Traceback` added code-error weight to a provider's ValidationException."""
    deploy = change("UpdateFunctionCode20150331v2", -12)
    provider = pattern(
        "[ERROR] 2026-11-20T11:50:00Z abc Traceback (most recent call last): ... "
        "botocore.errorfactory.ValidationException: An error occurred (ValidationException) when "
        "calling the Converse operation: Input is too long for requested model.",
        0,
        30,
        first=-10,
    )
    code = pattern(
        "[ERROR] 2026-11-20T11:50:00Z abc Traceback (most recent call last): ... "
        "KeyError: 'completion'",
        0,
        30,
        first=-10,
    )
    blamed_for_provider = bad_deployment(features(provider, changes=[deploy])).value
    blamed_for_code = bad_deployment(features(code, changes=[deploy])).value
    assert blamed_for_provider < 0.5 < blamed_for_code


# -- prompt keys and change kinds ---------------------------------------------------------


def test_prompt_keys_are_real_configuration_keys_only():
    """Fragile rule: the prompt-key regex matched any word containing "model" or "system"."""
    assert all(map(is_prompt_key, ["SYSTEM_PROMPT", "MODEL_ID", "maxTokens", "/app/prompts/v2"]))
    assert not any(map(is_prompt_key, ["FILESYSTEM_PATH", "DATA_MODEL_CACHE_TTL", "LOG_LEVEL"]))
    mount = change(
        "UpdateFunctionConfiguration20150331v2",
        -5,
        **{"environment.variables.FILESYSTEM_PATH": "/mnt"},
    )
    assert change_kind(mount) == "config"


def test_retention_and_tags_are_routine_and_policy_suffix_is_not_iam():
    """Fragile rule: `PutRetentionPolicy` was an IAM change (any name ending in Policy);
    tagging counted as a configuration change."""
    assert change_kind(change("PutRetentionPolicy", -5, source="logs.amazonaws.com")) == "routine"
    assert change_kind(change("TagResource", -5)) == "routine"
    assert change_kind(change("PutBucketTagging", -5, source="s3.amazonaws.com")) == "routine"
    assert (
        change_kind(change("PutScalingPolicy", -5, source="autoscaling.amazonaws.com")) == "config"
    )
    assert change_kind(change("PutRolePolicy", -5, source="iam.amazonaws.com")) == "iam"
    swap = change("UpdateFunctionConfiguration20150331v2", -5, role="arn:aws:iam::1:role/narrow")
    assert change_kind(swap) == "iam"


# -- baselines ----------------------------------------------------------------------------


def test_grew_needs_a_count_a_ratio_and_a_rise():
    assert grew(0, 10, WINDOW)
    assert not grew(0, 2, WINDOW)  # too few
    assert not grew(50, 15, WINDOW)  # the same rate: 1/min before, 1/min since
    assert share_grew(10, 100, 40, 100)
    assert not share_grew(45, 100, 48, 100)  # the same share as before
    assert not share_grew(0, 0, 40, 100)  # no baseline: nothing to have grown from


def _callers(before: dict[str, int], after: dict[str, int]) -> InvocationLogStats:
    log = InvocationLogStats()
    log.callers = Counter({(False, k): v for k, v in before.items()})
    log.callers.update({(True, k): v for k, v in after.items()})
    return log


def test_a_caller_with_the_same_share_as_before_is_not_a_heavy_tenant():
    """Fragile rule: a caller with >= 40% of calls was "heavy" even when it held that
    share before the onset."""
    tokens = [series("InputTokenCount", 20000, 90000, ModelId="m")]
    steady = _callers({"role/big": 300, "role/small": 300}, {"role/big": 50, "role/small": 50})
    f = features(series=tokens, invocation_log=steady)
    assert not any("caller" in line for line in token_cost_spike(f).lines)
    grown = _callers({"role/big": 30, "role/small": 300}, {"role/big": 150, "role/small": 50})
    lines = token_cost_spike(features(series=tokens, invocation_log=grown)).lines
    assert any("caller role/big" in line and "75% since" in line for line in lines)


def test_the_heavy_caller_is_the_one_sending_the_new_tokens():
    """Heavy callers were ranked by call count: the caller sending most of the new tokens,
    at a call share that barely moved, was not named."""
    tokens = [series("InputTokenCount", 20000, 90000, ModelId="m")]
    log = _callers({"role/t-big": 15, "role/t-a": 65}, {"role/t-big": 24, "role/t-a": 65})
    log.caller_tokens = Counter(
        {
            (False, "role/t-big"): 15 * 6000,
            (False, "role/t-a"): 65 * 6000,
            (True, "role/t-big"): 24 * 40000,
            (True, "role/t-a"): 65 * 6000,
        }
    )
    lines = token_cost_spike(features(series=tokens, invocation_log=log)).lines
    heavy = next(line for line in lines if line.startswith("caller "))
    assert "role/t-big" in heavy and "of tokens" in heavy and "71% since" in heavy


def test_a_call_with_no_baseline_is_not_slower():
    """Fragile rule: with no baseline traces, every trace was "slower"."""
    new_call = SegmentChange(
        name="GetItem",
        service="dynamodb",
        operation="GetItem",
        baseline=SegmentStats(),
        recent=SegmentStats(durations=[900.0] * 20),
    )
    assert not slower(new_call)
    root = SegmentChange(
        name=FUNCTION,
        service=FUNCTION,
        operation="",
        baseline=SegmentStats(),
        recent=SegmentStats(durations=[2500.0] * 20),
        kind="root",
    )
    assert features(segments=[root]).root_growth_ms() == 0.0


# -- changes -----------------------------------------------------------------------------

ONE_ERROR = "[ERROR] 2026-11-20T11:50:00Z abc payment webhook failed: KeyError: 'amount'"


def test_one_new_error_and_a_tag_write_are_not_a_bad_deployment():
    """Fragile rule: one new ERROR line plus any write event gave bad_deployment >= 0.5."""
    once = pattern(ONE_ERROR, 0, 1, first=-9)
    tagged = features(once, changes=[change("TagResource", -11)])
    assert bad_deployment(tagged).value < 0.5
    many = pattern(ONE_ERROR, 0, 40, first=-9)
    assert bad_deployment(features(many, changes=[change("TagResource", -11)])).value == 0
    far = features(many, changes=[change("UpdateFunctionCode20150331v2", -55)])
    assert bad_deployment(far).value < 0.5  # 45 clean minutes between the deploy and the errors
    near = bad_deployment(features(many, changes=[change("UpdateFunctionCode20150331v2", -11)]))
    assert near.value >= 0.5


def test_a_clean_deploy_half_an_hour_before_onset_does_not_discount_the_provider():
    """Fragile rule: a clean deploy 30 min before onset, followed by clean minutes, still
    discounted other categories."""
    server = [series("InvocationServerErrors", 0, 20, ModelId="m")]
    quiet = model_provider_degradation(features(series=server)).value
    clean = features(series=server, changes=[change("UpdateFunctionCode20150331v2", -40)])
    assert model_provider_degradation(clean).value == quiet
    close = features(series=server, changes=[change("UpdateFunctionCode20150331v2", -12)])
    assert model_provider_degradation(close).value < quiet


DENIED = (
    "[ERROR] 2026-11-20T11:51:00Z abc botocore.exceptions.ClientError: An error occurred "
    "(AccessDeniedException) when calling the InvokeModel operation: User: "
    "arn:aws:sts::111122223333:assumed-role/quote-narrow/quote-api is not authorized to "
    "perform: bedrock:InvokeModel on resource: arn:aws:bedrock:us-east-1::foundation-model/x"
)


def test_access_denied_cites_the_role_swap_not_an_iam_edit_after_onset():
    """Fragile rule: access_denied cited an IAM change made after onset and missed the role
    swap made through a function-configuration update."""
    denied = pattern(DENIED, 0, 40, first=-10)
    swap = change(
        "UpdateFunctionConfiguration20150331v2",
        -11,
        role="arn:aws:iam::111122223333:role/quote-narrow",
    )
    late = change("PutRolePolicy", -2, source="iam.amazonaws.com", related=False, roleName="x")
    lines = access_denied(features(denied, changes=[late, swap])).lines
    cause = next(line for line in lines if line.startswith("causal change"))
    assert "UpdateFunctionConfiguration" in cause and "by ci" in cause
    assert "onset T0-10m; change at T0-11m, 1 min before onset" in cause
    aside = next(line for line in lines if line.startswith("other changes set aside"))
    assert "PutRolePolicy" in aside and "after onset" in aside


def test_the_evidence_names_the_changed_value_with_its_previous_one():
    """The causal change cites the setting it changed, before and after, when CloudTrail
    holds an earlier event for the same key."""
    key = "environment.variables.MAX_TOKENS"
    earlier = change("UpdateFunctionConfiguration20150331v2", -300, **{key: "1024"})
    latest = change("UpdateFunctionConfiguration20150331v2", -11, **{key: "256"})
    truncated = pattern(
        "[WARNING] 2026-11-20T11:52:00Z abc reply truncated for session=ab12cd; sent partial",
        1,
        60,
    )
    lines = prompt_regression(features(truncated, changes=[earlier, latest])).lines
    assert any("MAX_TOKENS 1024 -> 256" in line for line in lines)


# -- Lambda reports and application outcomes -----------------------------------------------


def test_the_lambda_report_summary_shows_a_memory_cut():
    """Fragile rule: the report summary showed the largest memory size of both windows."""
    reports = LambdaReports(f"/aws/lambda/{FUNCTION}")
    text = (
        "REPORT RequestId: {}\tDuration: 900.1 ms\tBilled Duration: 901 ms\t"
        "Memory Size: {} MB\tMax Memory Used: {} MB"
    )
    for _ in range(20):
        reports.add(parse_report(text.format("a", 1024, 600)), recent=False)
        reports.add(parse_report(text.format("b", 512, 510)), recent=True)
    line = reports.line()
    assert "Memory Size 1024 -> 512 MB" in line
    assert compute_saturation(features(lambda_reports=[reports])).value > 0


def test_a_shift_in_the_applications_own_outcome_field_is_read():
    """An answer outcome the application logs (`"outcome":"declined"`) growing after a
    prompt change is a prompt regression, whatever words the app uses."""
    declined = pattern(
        '{"level":"INFO","msg":"answer sent","outcome":"declined","session":"s-81f2"}', 1, 90
    )
    prompt = change(
        "UpdateFunctionConfiguration20150331v2",
        -11,
        **{"environment.variables.SYSTEM_PROMPT_VERSION": "care-v15"},
    )
    score = prompt_regression(features(declined, changes=[prompt]))
    assert score.value >= 0.75
    assert any('"outcome":"declined"' in line for line in score.lines)


def test_a_result_count_gone_to_zero_behind_the_template_is_an_empty_retrieval():
    """The decisive value sits in the lines, not the template: a steady search line whose
    `numberOfResults` became 0 since the onset is cited with that value."""
    search = pattern("[INFO] 2026-11-20T11:20:00Z kb search done numberOfResults=4", 60, 10)
    search.shifts = ["numberOfResults=0 0% -> 100% of lines"]
    score = retrieval_failure(features(search))
    assert score.value > 0
    assert any("numberOfResults=0 0% -> 100%" in line for line in score.lines)


def test_a_status_field_shift_counts_but_a_success_status_does_not():
    """The application's own status field: `partial` growing is a shift in how answers
    ended; more `ok` lines are just more traffic."""
    partial = pattern('{"level":"INFO","msg":"reply sent","status":"partial"}', 1, 90)
    more_ok = pattern('{"level":"INFO","msg":"reply sent","status":"ok"}', 100, 400)
    f = features(partial, more_ok)
    assert f.outcome_shifts() == [partial]
    assert prompt_regression(features(more_ok)).value == 0


def test_without_traces_a_model_that_slowed_explains_the_functions_timeouts():
    """Found by the robustness bench (slow model, traces missing): the function's Duration,
    concurrency and `Task timed out` lines all follow Bedrock's own InvocationLatency, so
    the cause is the provider's latency, not the function's capacity."""
    timeouts = pattern("Task timed out after 20.02 seconds", 0, 60)
    lambda_side = [
        series("Duration", 2900, 14000, namespace="AWS/Lambda", FunctionName=FUNCTION),
        series("ConcurrentExecutions", 3, 14, namespace="AWS/Lambda", FunctionName=FUNCTION),
    ]
    latency = series("InvocationLatency", 2500, 13000, ModelId="m")
    slow_model = features(timeouts, series=[*lambda_side, latency])
    assert model_provider_degradation(slow_model).value > compute_saturation(slow_model).value
    own_capacity = features(timeouts, series=lambda_side)
    assert compute_saturation(own_capacity).value > model_provider_degradation(own_capacity).value


def test_concurrency_that_follows_a_longer_duration_is_not_saturation():
    """Found by the robustness bench (an agent's tool timing out, its spans and traces
    missing): concurrency 1 -> 3 beside Duration 4.4 s -> 11 s, with Lambda refusing
    nothing, is what slower requests look like, not a function short of room."""
    duration = series("Duration", 4400, 11000, namespace="AWS/Lambda", FunctionName=FUNCTION)
    concurrency = series(
        "ConcurrentExecutions", 1, 3, namespace="AWS/Lambda", FunctionName=FUNCTION
    )
    slower = compute_saturation(features(series=[concurrency, duration])).value
    throttled = series("Throttles", 0, 40, namespace="AWS/Lambda", FunctionName=FUNCTION)
    refused = compute_saturation(features(series=[concurrency, duration, throttled])).value
    assert slower <= 0.2 < refused
    surge = compute_saturation(features(series=[concurrency])).value
    assert surge > slower
