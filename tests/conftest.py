"""Shared fixtures: a small world of users who may and may not see things."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

PASSWORD = "correct horse battery staple"


@pytest.fixture
def alice(db):
    return get_user_model().objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def bob(db):
    return get_user_model().objects.create_user("bob", password=PASSWORD)


@pytest.fixture
def admin_user_(db):
    return get_user_model().objects.create_superuser("root", password=PASSWORD)


@pytest.fixture(autouse=True)
def _plain_static_storage(settings):
    # The manifest storage needs `collectstatic` first; tests render templates without it.
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _fast_upstream_retries(settings):
    # Automatic retries wait seconds in production; tests that hit a 429 or 503 must not.
    settings.UPSTREAM_RETRY_BASE_DELAY = 0.01
    settings.UPSTREAM_RETRY_MAX_DELAY = 0.05
