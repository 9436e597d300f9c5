from __future__ import annotations

import pytest

from minimax_web.env import ImproperEnv, env_bool, env_int, env_list, local_secret


@pytest.mark.parametrize(
    ("raw", "expected"), [("true", True), ("FALSE", False), ("1", True), ("off", False)]
)
def test_env_bool_accepts_only_true_and_false_spellings(monkeypatch, raw, expected):
    monkeypatch.setenv("FLAG", raw)
    assert env_bool("FLAG", not expected) is expected


def test_env_bool_fails_loudly_on_a_typo(monkeypatch):
    monkeypatch.setenv("FLAG", "ture")
    with pytest.raises(ImproperEnv, match="FLAG"):
        env_bool("FLAG", False)


def test_env_int_rejects_words_and_values_below_the_minimum(monkeypatch):
    monkeypatch.setenv("N", "ten")
    with pytest.raises(ImproperEnv):
        env_int("N", 1)
    monkeypatch.setenv("N", "0")
    with pytest.raises(ImproperEnv):
        env_int("N", 1, minimum=1)


def test_env_list_splits_on_commas(monkeypatch):
    monkeypatch.setenv("HOSTS", " a.example, b.example ,,")
    assert env_list("HOSTS") == ["a.example", "b.example"]


def test_local_secret_is_created_once_and_private(tmp_path):
    path = tmp_path / "secret.key"
    first = local_secret(path, lambda: "one")
    second = local_secret(path, lambda: "two")
    assert first == second == "one"
    assert path.stat().st_mode & 0o077 == 0
