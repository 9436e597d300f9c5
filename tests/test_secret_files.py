"""Secrets from files (NAME_FILE, Docker and Kubernetes secrets): read at start-up, and setting
both NAME and NAME_FILE stops the process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from minimax_web.env import ImproperEnv, env_secret, env_secret_list

ROOT = Path(__file__).resolve().parents[1]
SECRETS = ("DJANGO_SECRET_KEY", "DASHSCOPE_API_KEY", "FIELD_ENCRYPTION_KEYS", "DATABASE_URL")


def test_a_secret_is_read_from_its_file_without_the_trailing_newline(monkeypatch, tmp_path):
    path = tmp_path / "key"
    path.write_text("sk-from-file\n")
    monkeypatch.delenv("API_KEY", raising=False)
    monkeypatch.setenv("API_KEY_FILE", str(path))

    assert env_secret("API_KEY") == "sk-from-file"


def test_without_a_file_the_variable_is_used(monkeypatch):
    monkeypatch.delenv("API_KEY_FILE", raising=False)
    monkeypatch.setenv("API_KEY", "sk-plain")

    assert env_secret("API_KEY") == "sk-plain"


def test_setting_both_is_an_error(monkeypatch, tmp_path):
    path = tmp_path / "key"
    path.write_text("one")
    monkeypatch.setenv("API_KEY", "two")
    monkeypatch.setenv("API_KEY_FILE", str(path))

    with pytest.raises(ImproperEnv, match="API_KEY and API_KEY_FILE are both set"):
        env_secret("API_KEY")


def test_an_unreadable_file_is_an_error_that_names_it(monkeypatch, tmp_path):
    monkeypatch.delenv("API_KEY", raising=False)
    monkeypatch.setenv("API_KEY_FILE", str(tmp_path / "missing"))

    with pytest.raises(ImproperEnv, match="API_KEY_FILE"):
        env_secret("API_KEY")


def test_a_key_list_file_may_hold_one_key_per_line(monkeypatch, tmp_path):
    path = tmp_path / "keys"
    path.write_text("newest\nolder\n")
    monkeypatch.delenv("KEYS", raising=False)
    monkeypatch.setenv("KEYS_FILE", str(path))

    assert env_secret_list("KEYS") == ["newest", "older"]


def _settings_value(env: dict, expression: str) -> subprocess.CompletedProcess:
    script = f"import minimax_web.settings as s; print({expression})"
    return subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )


def _clean_env(tmp_path: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith(SECRETS)}
    return {**env, "DATA_DIR": str(tmp_path / "data"), "PYTHONPATH": str(ROOT)}


@pytest.mark.parametrize(
    ("name", "value", "expression"),
    [
        ("DJANGO_SECRET_KEY", "s" * 60, "s.SECRET_KEY"),
        ("DASHSCOPE_API_KEY", "sk-file", "s.DASHSCOPE_API_KEY"),
        ("FIELD_ENCRYPTION_KEYS", "k1,k2", "','.join(s.FIELD_ENCRYPTION_KEYS)"),
        ("DATABASE_URL", "sqlite:////tmp/from-file.db", "s.DATABASES['default']['NAME']"),
    ],
)
def test_every_secret_setting_takes_a_file(tmp_path, name, value, expression):
    path = tmp_path / name
    path.write_text(value + "\n")
    env = {**_clean_env(tmp_path), f"{name}_FILE": str(path)}

    result = _settings_value(env, expression)

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith(value.removeprefix("sqlite:///"))


def test_the_settings_refuse_to_start_with_both(tmp_path):
    path = tmp_path / "key"
    path.write_text("sk-file")
    env = {
        **_clean_env(tmp_path),
        "DASHSCOPE_API_KEY": "sk-env",
        "DASHSCOPE_API_KEY_FILE": str(path),
    }

    result = _settings_value(env, "s.DASHSCOPE_API_KEY")

    assert result.returncode != 0
    assert "DASHSCOPE_API_KEY and DASHSCOPE_API_KEY_FILE are both set" in result.stderr
