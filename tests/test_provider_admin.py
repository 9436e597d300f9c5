"""The provider admin: key health in words, re-enabling a key, and Test connection through the
app's own client against the fake upstream running as a separate process."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.contrib.messages import get_messages
from django.utils import timezone

from chat.fakeupstream.testing import start_fake_upstream
from chat.models import Provider, ProviderKey
from chat.providers.admin import key_health
from tests.providers import add_key, fake_provider

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def fake_upstream():
    with start_fake_upstream(["--tps", "0"]) as running:
        yield running


@pytest.fixture(params=["openai_compat", "dashscope_native"])
def provider(request, fake_upstream) -> Provider:
    return fake_provider(fake_upstream, request.param, name="Fake")


def run_action(client, url: str, action: str, ids: list[int]) -> list[str]:
    response = client.post(url, {"action": action, "_selected_action": ids}, follow=True)
    assert response.status_code == 200
    return [str(message) for message in get_messages(response.wsgi_request)]


def test_test_connection_reports_success_with_model_latency_and_tokens(
    client, admin_user_, provider
):
    client.force_login(admin_user_)
    key = add_key(provider, "good", "sk-good-1234")

    (message,) = run_action(client, "/admin/chat/providerkey/", "test_connection", [key.pk])

    assert re.fullmatch(
        r"good: Connection works: MiniMax-M2\.5 answered in \d+ ms, \d+ tokens\.", message
    ), message


def test_test_connection_reports_a_bad_key_in_words_with_its_code(client, admin_user_, provider):
    client.force_login(admin_user_)
    key = add_key(provider, "bad", "sk-fake-bad-1234")

    (message,) = run_action(client, "/admin/chat/providerkey/", "test_connection", [key.pk])

    assert message.startswith("bad: Connection failed (HTTP 401): DashScope rejected the API key")
    assert message.endswith("(invalid_api_key)") or message.endswith("(InvalidApiKey)")
    assert "sk-fake-bad-1234" not in message


def test_the_provider_action_tests_its_first_enabled_key(client, admin_user_, provider):
    client.force_login(admin_user_)
    add_key(provider, "first", "sk-good-1111")

    (message,) = run_action(client, "/admin/chat/provider/", "test_connection", [provider.pk])

    assert message.startswith("Fake / first: Connection works")


def test_an_unhealthy_key_says_why_and_since_when_and_can_be_re_enabled(
    client, admin_user_, provider
):
    client.force_login(admin_user_)
    key = add_key(provider, "bad", "sk-fake-bad-1234")
    ProviderKey.objects.filter(pk=key.pk).update(
        unhealthy_code="InvalidApiKey",
        unhealthy_kind="bad_key",
        unhealthy_message="Invalid API-key provided.",
        unhealthy_since=timezone.now() - timedelta(minutes=5),
    )

    page = client.get(f"/admin/chat/provider/{provider.pk}/change/").content.decode()
    assert "Unhealthy since" in page and "DashScope rejected the API key" in page
    assert "(InvalidApiKey)" in page

    (message,) = run_action(client, "/admin/chat/providerkey/", "reenable", [key.pk])
    key.refresh_from_db()
    assert message == "1 key(s) will be tried again."
    assert key.unhealthy_since is None and key_health(key) == "Healthy"


def test_a_resting_key_says_until_when(provider):
    key = add_key(provider, "busy", "sk-fake-busy-1")
    key.resting_until = timezone.now() + timedelta(seconds=30)

    assert key_health(key).startswith("Resting until ")


def test_the_model_picker_offers_what_the_enabled_providers_offer(client, alice, provider):
    provider.offered_models = "MiniMax-M2.5\nMiniMax-M2\n"
    provider.save()
    add_key(provider, "k", "sk-good-1")
    Provider.objects.create(name="off", enabled=False, offered_models="hidden-model")
    client.force_login(alice)

    page = client.get("/").content.decode()

    assert '<option value="MiniMax-M2">MiniMax-M2</option>' in page
    assert "hidden-model" not in page


def test_a_custom_endpoint_needs_its_base_url(client, admin_user_):
    client.force_login(admin_user_)
    data = {
        "name": "vLLM",
        "protocol": "openai_compat",
        "endpoint": "custom",
        "custom_base_url": "",
        "offered_models": "MiniMax-M2",
        "enabled": "on",
        "keys-TOTAL_FORMS": "0",
        "keys-INITIAL_FORMS": "0",
    }

    refused = client.post("/admin/chat/provider/add/", data)
    accepted = client.post(
        "/admin/chat/provider/add/", {**data, "custom_base_url": "http://vllm.internal:8000/v1"}
    )

    assert "A custom endpoint needs its base URL." in refused.content.decode()
    assert accepted.status_code == 302
    assert Provider.objects.get(name="vLLM").base_url == "http://vllm.internal:8000/v1"


def test_the_presets_point_at_both_regions_for_both_protocols():
    beijing = Provider(endpoint="beijing", protocol="dashscope_native")
    singapore = Provider(endpoint="singapore", protocol="openai_compat")

    assert beijing.base_url == "https://dashscope.aliyuncs.com/api/v1"
    assert singapore.base_url == "https://dashscope-intl.aliyuncs.com/compatible-mode/v1"
