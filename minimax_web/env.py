"""Strict readers for settings that come from environment variables.

A typo in a production variable must stop the process at start-up, not quietly pick a default.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ImproperEnv(ValueError):
    pass


def env_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default).strip()


def env_secret(name: str, default: str = "") -> str:
    """A secret from `name`, or from the file named by `name`_FILE (Docker and Kubernetes
    secrets); setting both is an error, so nobody has to guess which one wins."""
    file_name = f"{name}_FILE"
    path = os.environ.get(file_name, "").strip()
    if not path:
        return env_str(name, default)
    if os.environ.get(name, "").strip():
        raise ImproperEnv(f"{name} and {file_name} are both set; set only one of them")
    try:
        return Path(path).read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ImproperEnv(f"{file_name}={path!r} cannot be read: {exc.strerror}") from exc


def env_secret_list(name: str) -> list[str]:
    """A comma-separated secret list, from `name` or `name`_FILE (commas or lines in the file)."""
    raw = env_secret(name)
    return [item.strip() for item in raw.replace("\n", ",").split(",") if item.strip()]


def env_choice(name: str, default: str, choices: tuple[str, ...]) -> str:
    value = env_str(name, default) or default
    if value not in choices:
        raise ImproperEnv(f"{name}={value!r} must be one of: {', '.join(choices)}")
    return value


def env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ImproperEnv(f"{name}={raw!r} is not a boolean; use true or false")


def env_int(name: str, default: int, *, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw.strip())
    except ValueError as exc:
        raise ImproperEnv(f"{name}={raw!r} is not a whole number") from exc
    if value < minimum:
        raise ImproperEnv(f"{name}={value} must be at least {minimum}")
    return value


def env_float(name: str, default: float, *, minimum: float = 0.0) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = float(raw.strip())
    except ValueError as exc:
        raise ImproperEnv(f"{name}={raw!r} is not a number") from exc
    if value < minimum:
        raise ImproperEnv(f"{name}={value} must be at least {minimum}")
    return value


def env_list(name: str, default: list[str] | None = None) -> list[str]:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return list(default or [])
    return [item.strip() for item in raw.split(",") if item.strip()]


def local_secret(path: Path, make: Callable[[], str]) -> str:
    """Read a generated secret from `path`, creating it (mode 0600) on first use.

    Zero-configuration installs need a stable SECRET_KEY and encryption key across restarts;
    keeping them beside the database means a backup of DATA_DIR restores both together.
    """
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value + "\n")
    return value


def make_secret_key() -> str:
    return secrets.token_urlsafe(50)
