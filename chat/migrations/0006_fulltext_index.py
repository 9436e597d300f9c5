"""The full-text index behind chat.selectors.search (the SQL lives in chat.search_index, which
also repairs it after later table rebuilds on SQLite)."""

from django.db import migrations

from chat import search_index


def create(apps, schema_editor) -> None:
    search_index.create(schema_editor.connection)


def drop(apps, schema_editor) -> None:
    search_index.drop(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [("chat", "0005_history_search_share")]

    operations = [migrations.RunPython(create, drop)]
