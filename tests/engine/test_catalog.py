from pathlib import Path

import pytest

from bot.engine.catalog import Catalog, CatalogError, load_catalog
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
