from django.apps import AppConfig
from django.db.models.signals import post_migrate


class ChatConfig(AppConfig):
    name = "chat"
    verbose_name = "Chat"

    def ready(self) -> None:
        from chat import revocation  # noqa: F401  (connects the signal receivers)

        post_migrate.connect(_repair_search_index, sender=self)


def _repair_search_index(sender: AppConfig, using: str, **kwargs: object) -> None:
    from django.db import connections

    from chat import search_index

    search_index.repair(connections[using])
