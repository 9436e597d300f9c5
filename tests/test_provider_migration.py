"""Migration 0004 turns each base URL the old keys used into a provider holding those keys,
and back."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

pytestmark = pytest.mark.django_db(transaction=True)

BEFORE = [("chat", "0003_generationstart")]
AFTER = [("chat", "0004_providers_and_key_pools")]


def migrate(targets):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(targets)
    return executor.loader.project_state(targets).apps


@pytest.fixture
def at_0003():
    apps = migrate(BEFORE)
    yield apps
    executor = MigrationExecutor(connection)
    migrate(executor.loader.graph.leaf_nodes())


def test_old_keys_become_providers_by_base_url(at_0003):
    OldKey = at_0003.get_model("chat", "ProviderKey")
    for name, base_url, default in [
        ("sg", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", True),
        ("sg2", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", False),
        ("vllm", "http://vllm.internal:8000/v1", False),
    ]:
        OldKey.objects.create(
            name=name, base_url=base_url, encrypted_key="x", key_tail="1234", is_default=default
        )

    apps = migrate(AFTER)

    Provider = apps.get_model("chat", "Provider")
    singapore = Provider.objects.get(endpoint="singapore")
    custom = Provider.objects.get(endpoint="custom")
    assert singapore.is_default and singapore.protocol == "openai_compat"
    assert sorted(singapore.keys.values_list("name", flat=True)) == ["sg", "sg2"]
    assert custom.custom_base_url == "http://vllm.internal:8000/v1"
    assert list(custom.keys.values_list("name", flat=True)) == ["vllm"]

    apps = migrate(BEFORE)

    restored = apps.get_model("chat", "ProviderKey").objects.order_by("name")
    assert [(key.name, key.base_url, key.is_default) for key in restored] == [
        ("sg", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", True),
        ("sg2", "https://dashscope-intl.aliyuncs.com/compatible-mode/v1", False),
        ("vllm", "http://vllm.internal:8000/v1", False),
    ]
