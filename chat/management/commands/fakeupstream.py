"""`python manage.py fakeupstream --host 127.0.0.1 --port 8765 [flags]`: the Django-free fake."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from chat.fakeupstream.scenarios import ScenarioError, add_scenario_arguments, scenario_from_cli
from chat.fakeupstream.server import add_server_arguments, run


class Command(BaseCommand):
    help = "Run the fake DashScope upstream (same flags as `python -m chat.fakeupstream`)."
    requires_system_checks: list[str] = []
    requires_migrations_checks = False

    def add_arguments(self, parser: CommandParser) -> None:
        add_server_arguments(parser)
        add_scenario_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            base = scenario_from_cli(argparse.Namespace(**options))
        except ScenarioError as exc:
            raise CommandError(str(exc)) from exc
        run(options["host"], options["port"], base)
