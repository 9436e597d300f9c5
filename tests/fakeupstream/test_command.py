"""The `manage.py fakeupstream` command only parses flags and calls the Django-free server."""

import pytest
from django.core.management.base import CommandError

from chat.fakeupstream.scenarios import Scenario
from chat.management.commands import fakeupstream


def run_command(monkeypatch: pytest.MonkeyPatch, argv: list[str]) -> tuple[str, int, Scenario]:
    calls = []
    monkeypatch.setattr(fakeupstream, "run", lambda *args: calls.append(args))
    command = fakeupstream.Command()
    options = command.create_parser("manage.py", "fakeupstream").parse_args(argv)
    command.handle(**vars(options))
    return calls[0]


def test_command_delegates_to_the_server(monkeypatch: pytest.MonkeyPatch) -> None:
    host, port, scenario = run_command(
        monkeypatch, ["--host", "0.0.0.0", "--port", "9999", "--tps", "5", "--answer", "demo"]
    )
    assert (host, port) == ("0.0.0.0", 9999)
    assert scenario == Scenario(tokens_per_second=5, answer="demo")


def test_command_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    assert run_command(monkeypatch, []) == ("127.0.0.1", 8765, Scenario())


def test_command_rejects_bad_scenarios(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(CommandError, match="unknown error"):
        run_command(monkeypatch, ["--error", "nope"])
