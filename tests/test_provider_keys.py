"""Upstream API keys: encrypted at rest, write-only in admin, masked everywhere, rotatable."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.core.management import call_command
from django.core.management.base import CommandError

from chat.crypto import KeyDecryptionError, decrypt_secret
from chat.models import Provider, ProviderKey
from chat.upstream_config import upstream_resolve

pytestmark = pytest.mark.django_db

SECRET = "sk-abcdefghijklmnop1234"


def _provider() -> Provider:
    return Provider.objects.get_or_create(name="DashScope Beijing")[0]


def _add_key_in_admin(client, **extra) -> ProviderKey:
    data = {
        "provider": _provider().pk,
        "name": "Team key",
        "api_key": SECRET,
        "priority": 1,
        "enabled": "on",
        **extra,
    }
    response = client.post("/admin/chat/providerkey/add/", data)
    assert response.status_code == 302, response.content.decode()[:2000]
    return ProviderKey.objects.get(name=data["name"])


def test_a_key_added_in_admin_is_encrypted_and_only_its_tail_is_shown(client, admin_user_):
    client.force_login(admin_user_)
    key = _add_key_in_admin(client)
    assert SECRET not in key.encrypted_key
    assert decrypt_secret(key.encrypted_key) == SECRET
    assert key.masked_key == "••••1234"

    listing = client.get("/admin/chat/providerkey/").content.decode()
    change = client.get(f"/admin/chat/providerkey/{key.pk}/change/").content.decode()
    for page in (listing, change):
        assert SECRET not in page
        assert key.encrypted_key not in page
        assert "••••1234" in page


def test_saving_without_a_new_key_keeps_the_old_one(client, admin_user_):
    client.force_login(admin_user_)
    key = _add_key_in_admin(client)
    response = client.post(
        f"/admin/chat/providerkey/{key.pk}/change/",
        {
            "provider": key.provider_id,
            "name": "Renamed",
            "priority": 1,
            "api_key": "",
            "enabled": "on",
        },
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.name == "Renamed"
    assert decrypt_secret(key.encrypted_key) == SECRET


def test_a_new_entry_without_a_key_is_refused(client, admin_user_):
    client.force_login(admin_user_)
    response = client.post(
        "/admin/chat/providerkey/add/",
        {
            "provider": _provider().pk,
            "name": "Empty",
            "priority": 1,
            "api_key": "",
            "enabled": "on",
        },
    )
    assert response.status_code == 200
    assert "An API key is required" in response.content.decode()
    assert not ProviderKey.objects.exists()


def test_an_admin_key_is_used_when_the_environment_has_none(client, admin_user_, settings):
    settings.DASHSCOPE_API_KEY = ""
    client.force_login(admin_user_)
    _add_key_in_admin(client)
    resolved = upstream_resolve()
    assert resolved.demo is False
    assert resolved.target.api_key == SECRET
    assert resolved.target.base_url == "https://dashscope.aliyuncs.com/compatible-mode/v1"
    assert SECRET not in repr(resolved.target)


def test_the_environment_key_needs_no_admin_step(settings):
    settings.DASHSCOPE_API_KEY = "sk-from-env"
    settings.DASHSCOPE_BASE_URL = "http://127.0.0.1:8765/compatible-mode/v1"
    resolved = upstream_resolve()
    assert resolved.demo is False
    assert resolved.target.base_url == "http://127.0.0.1:8765/compatible-mode/v1"


def test_without_any_key_the_offline_demo_is_used(settings):
    settings.DASHSCOPE_API_KEY = ""
    assert upstream_resolve().demo is True


def test_rotation_re_encrypts_with_the_newest_key(client, admin_user_, settings):
    client.force_login(admin_user_)
    key = _add_key_in_admin(client)
    old_token = key.encrypted_key
    settings.FIELD_ENCRYPTION_KEYS = [
        Fernet.generate_key().decode(),
        *settings.FIELD_ENCRYPTION_KEYS,
    ]
    call_command("rotate_provider_keys")
    key.refresh_from_db()
    assert key.encrypted_key != old_token
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    assert decrypt_secret(key.encrypted_key) == SECRET


def test_a_wrong_encryption_key_raises_instead_of_leaking_ciphertext(client, admin_user_, settings):
    client.force_login(admin_user_)
    key = _add_key_in_admin(client)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    with pytest.raises(KeyDecryptionError):
        decrypt_secret(key.encrypted_key)
    with pytest.raises(CommandError):
        call_command("rotate_provider_keys")
