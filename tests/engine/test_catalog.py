from pathlib import Path

import pytest

from bot.engine.catalog import GEOGRAPHIES, Catalog, CatalogError, bedrock_regions, load_catalog
from bot.models import Alarm, ServiceEntry
from tests.conftest import T0


def alarm(name: str, **dimensions: str) -> Alarm:
    return Alarm(name=name, dimensions=dimensions, changed_at=T0)


CATALOG = Catalog(
    services=[
        ServiceEntry(name="chat", lambda_functions=["chat-fn"]),
        ServiceEntry(name="chat-api", bedrock={"guardrails": [{"id": "gr123", "version": 2}]}),
        ServiceEntry(name="search", dependencies=["dynamodb:search-sessions"]),
    ]
)


def test_dimensions_win_over_the_name():
    assert CATALOG.resolve(alarm("chat-api-errors", FunctionName="chat-fn")).name == "chat"


def test_guardrail_arn_and_dependency_dimensions_resolve():
    arn = "arn:aws:bedrock:us-east-1:111122223333:guardrail/gr123"
    assert CATALOG.resolve(alarm("x", GuardrailArn=arn)).name == "chat-api"
    assert CATALOG.resolve(alarm("x", TableName="search-sessions")).name == "search"


def test_longest_name_prefix_wins():
    assert CATALOG.resolve(alarm("chat-api-latency")).name == "chat-api"
    assert CATALOG.resolve(alarm("chat-latency")).name == "chat"


def test_unknown_alarm_has_no_service():
    assert CATALOG.resolve(alarm("billing-errors", FunctionName="billing")) is None


def test_bad_catalog_names_file_and_field(tmp_path: Path):
    path = tmp_path / "catalog.yaml"
    path.write_text("services:\n  - name: ok\n  - team: nobody\n")
    with pytest.raises(CatalogError, match=r"catalog.yaml: services\[1\].name"):
        load_catalog(path)


def test_duplicate_services_are_rejected(tmp_path: Path):
    path = tmp_path / "catalog.yaml"
    path.write_text("services:\n  - name: a\n  - name: a\n")
    with pytest.raises(CatalogError, match="listed twice"):
        load_catalog(path)


def test_no_catalog_is_an_empty_catalog():
    assert load_catalog(None).services == []


def test_a_math_alarm_resolves_by_the_metrics_it_reads():
    math = Alarm(
        name="error-rate",
        kind="math",
        expression="m1/m2",
        metrics=[
            {
                "id": "m1",
                "namespace": "AWS/Lambda",
                "metric": "Errors",
                "dimensions": {"FunctionName": "chat-fn"},
            }
        ],
        changed_at=T0,
    )
    assert CATALOG.resolve(math).name == "chat"


def test_a_composite_resolves_by_its_triggering_child():
    composite = Alarm(
        name="degraded",
        kind="composite",
        rule="ALARM(search-latency) OR ALARM(x)",
        children=["arn:aws:cloudwatch:us-east-1:111122223333:alarm:search-latency"],
        changed_at=T0,
    )
    assert CATALOG.resolve(composite).name == "search"


ACCOUNTS = Catalog(
    services=[
        ServiceEntry(name="claims", lambda_functions=["claims-api"]),
        ServiceEntry(
            name="claims-prod",
            account="222233334444",
            role_arn="arn:aws:iam::222233334444:role/llm-incident-read",
            lambda_functions=["claims-api"],
        ),
        ServiceEntry(
            name="claims-staging", account="333344445555", lambda_functions=["claims-api"]
        ),
    ]
)


@pytest.mark.parametrize(
    ("account", "service"),
    [
        ("222233334444", "claims-prod"),
        ("333344445555", "claims-staging"),
        ("111122223333", "claims"),
        ("", "claims"),
    ],
)
def test_the_same_resource_in_several_accounts_resolves_by_the_alarms_account(account, service):
    alarm = Alarm(
        name="claims-errors",
        dimensions={"FunctionName": "claims-api"},
        account=account,
        changed_at=T0,
    )
    assert ACCOUNTS.resolve(alarm).name == service


def test_a_service_of_another_account_never_claims_an_alarm_by_name():
    only_prod = Catalog(services=[ACCOUNTS.services[1]])
    assert (
        only_prod.resolve(Alarm(name="claims-prod-errors", account="999988887777", changed_at=T0))
        is None
    )


def test_role_fields_are_checked():
    with pytest.raises(ValueError, match="not in account"):
        ServiceEntry(name="x", account="111122223333", role_arn="arn:aws:iam::222233334444:role/r")
    with pytest.raises(ValueError, match="external_id needs a role_arn"):
        ServiceEntry(name="x", external_id="abc")
    with pytest.raises(ValueError, match="role_arn"):
        ServiceEntry(name="x", role_arn="arn:aws:iam::12:role/r")


@pytest.mark.parametrize(
    ("model", "regions"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0", set()),
        ("us.anthropic.claude-3-5-haiku-20241022-v1:0", {"us-east-1", "us-west-1", "us-west-2"}),
        ("eu.anthropic.claude-3-7-sonnet-20250219-v1:0", set(GEOGRAPHIES["eu"])),
        ("apac.amazon.nova-pro-v1:0", set(GEOGRAPHIES["apac"])),
        (
            "arn:aws:bedrock:us-east-2:111122223333:inference-profile/global.anthropic.claude-sonnet-4-5-20250929-v1:0",
            set(GEOGRAPHIES["global"]) - {"us-east-2"},
        ),
    ],
)
def test_a_cross_region_profile_is_read_in_its_other_regions(model, regions):
    service = ServiceEntry(name="s", bedrock={"model_ids": [model]})
    assert set(bedrock_regions(service, "us-east-2")) == regions


def test_the_catalog_can_narrow_a_global_profile():
    service = ServiceEntry(
        name="s",
        bedrock={
            "model_ids": ["global.anthropic.claude-sonnet-4-5-20250929-v1:0"],
            "regions": ["us-east-1", "eu-west-1"],
        },
    )
    assert bedrock_regions(service, "us-east-1") == ["eu-west-1"]
    assert "eu-west-2" in GEOGRAPHIES["eu"] and "me-central-1" in GEOGRAPHIES["apac"]
