"""Encryption at rest for upstream API keys (MultiFernet over FIELD_ENCRYPTION_KEYS).

The first key encrypts; every listed key decrypts, so keys can be rotated by putting a new key
first and running `manage.py rotate_provider_keys`. A value no listed key can decrypt raises
KeyDecryptionError: there is no fallback that could hand ciphertext to the upstream.
"""

from __future__ import annotations

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class KeyDecryptionError(Exception):
    pass


@lru_cache(maxsize=4)
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in keys])
    except (ValueError, TypeError) as exc:
        raise ImproperlyConfigured(
            "FIELD_ENCRYPTION_KEYS must be comma-separated Fernet keys "
            "(make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())')"
        ) from exc


def _current() -> MultiFernet:
    keys = tuple(settings.FIELD_ENCRYPTION_KEYS)
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is empty")
    return _fernet(keys)


def encrypt_secret(plaintext: str) -> str:
    return _current().encrypt(plaintext.encode()).decode()


def decrypt_secret(token: str) -> str:
    try:
        return _current().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise KeyDecryptionError(
            "A stored API key cannot be decrypted with FIELD_ENCRYPTION_KEYS "
            "(was a key removed before rotate_provider_keys ran?)"
        ) from exc


def rotate_secret(token: str) -> str:
    """Re-encrypt with the newest key; raises KeyDecryptionError like decrypt_secret."""
    try:
        return _current().rotate(token.encode()).decode()
    except InvalidToken as exc:
        raise KeyDecryptionError("A stored API key cannot be decrypted for rotation") from exc
