from django.core.management.base import BaseCommand, CommandError

from chat.crypto import KeyDecryptionError
from chat.services import provider_keys_rotate


class Command(BaseCommand):
    help = (
        "Re-encrypt every stored upstream API key with the first key in FIELD_ENCRYPTION_KEYS. "
        "Run it after putting a new key first; then the old keys can be removed."
    )

    def handle(self, *args: object, **options: object) -> None:
        try:
            count = provider_keys_rotate()
        except KeyDecryptionError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(self.style.SUCCESS(f"Re-encrypted {count} provider key(s)."))
