"""The full-text index behind chat.selectors.search, in the database's own engine.

SQLite: FTS5 external-content tables over message text and conversation titles, kept in sync
by triggers. PostgreSQL: GIN indexes on tsvector expressions. Either way a message enters the
index only once it stops streaming, so the frequent checkpoints of a live answer cost the
index nothing (docs/architecture.md, "History, search and sharing").

Django rebuilds a SQLite table to alter it (copy, drop, rename), and the drop takes the table's
triggers with it; `repair` (run after every migrate) puts them back and re-fills the index.
"""

from __future__ import annotations

from django.db.backends.base.base import BaseDatabaseWrapper

SQLITE_TABLES = [
    """CREATE VIRTUAL TABLE chat_message_fts USING fts5(
        content, reasoning, content='chat_message', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
    """CREATE VIRTUAL TABLE chat_conversation_fts USING fts5(
        title, content='chat_conversation', content_rowid='id',
        tokenize='unicode61 remove_diacritics 2')""",
]
SQLITE_FILL = [
    "INSERT INTO chat_message_fts(chat_message_fts) VALUES ('delete-all')",
    """INSERT INTO chat_message_fts(rowid, content, reasoning)
        SELECT id, content, reasoning FROM chat_message WHERE status <> 'streaming'""",
    "INSERT INTO chat_conversation_fts(chat_conversation_fts) VALUES ('delete-all')",
    "INSERT INTO chat_conversation_fts(rowid, title) SELECT id, title FROM chat_conversation",
]
SQLITE_TRIGGERS = {
    "chat_message_fts_insert": """AFTER INSERT ON chat_message
        WHEN new.status <> 'streaming' BEGIN
        INSERT INTO chat_message_fts(rowid, content, reasoning)
            VALUES (new.id, new.content, new.reasoning);
    END""",
    "chat_message_fts_delete": """AFTER DELETE ON chat_message
        WHEN old.status <> 'streaming' BEGIN
        INSERT INTO chat_message_fts(chat_message_fts, rowid, content, reasoning)
            VALUES ('delete', old.id, old.content, old.reasoning);
    END""",
    # One trigger, in this order: the old text leaves the index if it was in it, then the new
    # text enters it if the row no longer streams. (Two triggers would run newest first, and an
    # insert before the delete of the same rowid corrupts an FTS5 index.)
    "chat_message_fts_update": """AFTER UPDATE OF content, reasoning, status ON chat_message
        WHEN old.status <> 'streaming' OR new.status <> 'streaming' BEGIN
        INSERT INTO chat_message_fts(chat_message_fts, rowid, content, reasoning)
            SELECT 'delete', old.id, old.content, old.reasoning WHERE old.status <> 'streaming';
        INSERT INTO chat_message_fts(rowid, content, reasoning)
            SELECT new.id, new.content, new.reasoning WHERE new.status <> 'streaming';
    END""",
    "chat_conversation_fts_insert": """AFTER INSERT ON chat_conversation BEGIN
        INSERT INTO chat_conversation_fts(rowid, title) VALUES (new.id, new.title);
    END""",
    "chat_conversation_fts_delete": """AFTER DELETE ON chat_conversation BEGIN
        INSERT INTO chat_conversation_fts(chat_conversation_fts, rowid, title)
            VALUES ('delete', old.id, old.title);
    END""",
    "chat_conversation_fts_update": """AFTER UPDATE OF title ON chat_conversation BEGIN
        INSERT INTO chat_conversation_fts(chat_conversation_fts, rowid, title)
            VALUES ('delete', old.id, old.title);
        INSERT INTO chat_conversation_fts(rowid, title) VALUES (new.id, new.title);
    END""",
}

# Text past this many characters of a field is not indexed on PostgreSQL: a tsvector is limited
# to 1 MB, and an answer must never fail to save because its index entry would not fit.
POSTGRES_FIELD_CHARS = 100_000
POSTGRES_MESSAGE_DOCUMENT = (
    f"to_tsvector('simple', left(m.content, {POSTGRES_FIELD_CHARS}) || ' ' "
    f"|| left(m.reasoning, {POSTGRES_FIELD_CHARS}))"
)
POSTGRES_TITLE_DOCUMENT = "to_tsvector('simple', c.title)"
# The index expressions are the queries' expressions without the table aliases: PostgreSQL
# uses an expression index only for the same expression.
POSTGRES_INDEXES = [
    "CREATE INDEX chat_message_fts ON chat_message USING GIN ("
    + POSTGRES_MESSAGE_DOCUMENT.replace("m.", "")
    + ") WHERE status <> 'streaming'",
    "CREATE INDEX chat_conversation_fts ON chat_conversation USING GIN ("
    + POSTGRES_TITLE_DOCUMENT.replace("c.", "")
    + ")",
]


def create(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor == "sqlite":
        _execute(connection, SQLITE_TABLES + SQLITE_FILL + _sqlite_trigger_statements())
    elif connection.vendor == "postgresql":
        _execute(connection, POSTGRES_INDEXES)


def drop(connection: BaseDatabaseWrapper) -> None:
    if connection.vendor == "sqlite":
        triggers = [f"DROP TRIGGER IF EXISTS {name}" for name in SQLITE_TRIGGERS]
        tables = ["DROP TABLE chat_conversation_fts", "DROP TABLE chat_message_fts"]
        _execute(connection, triggers + tables)
    elif connection.vendor == "postgresql":
        _execute(connection, ["DROP INDEX chat_conversation_fts", "DROP INDEX chat_message_fts"])


def repair(connection: BaseDatabaseWrapper) -> bool:
    """Put back SQLite triggers a table rebuild dropped, and re-fill the index they missed.
    Returns whether anything was missing."""
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'trigger')")
        present = {row[0] for row in cursor.fetchall()}
    if "chat_message_fts" not in present or set(SQLITE_TRIGGERS) <= present:
        return False
    _execute(connection, _sqlite_trigger_statements() + SQLITE_FILL)
    return True


def _sqlite_trigger_statements() -> list[str]:
    return [f"CREATE TRIGGER IF NOT EXISTS {name} {body}" for name, body in SQLITE_TRIGGERS.items()]


def _execute(connection: BaseDatabaseWrapper, statements: list[str]) -> None:
    with connection.cursor() as cursor:
        for statement in statements:
            cursor.execute(statement)
