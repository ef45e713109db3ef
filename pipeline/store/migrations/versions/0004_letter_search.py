"""full-text search over letter text: SQLite FTS5 table kept in step by triggers, PostgreSQL GIN index

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 23:30:00

SQLite: ``letters_fts`` (FTS5, unicode61 tokenizer without diacritics folding, so й and ї stay
letters) holds each letter's text under its rowid; triggers on ``letters`` keep it current.
PostgreSQL: an expression index on ``to_tsvector('simple', text)`` serves ``@@`` queries.
"""
from collections.abc import Sequence

from alembic import op

revision: str = '0004'
down_revision: str | Sequence[str] | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        op.execute("CREATE VIRTUAL TABLE letters_fts USING fts5(letter_id UNINDEXED, text, "
                   "tokenize = 'unicode61 remove_diacritics 0')")
        op.execute("INSERT INTO letters_fts (rowid, letter_id, text) "
                   "SELECT rowid, letter_id, coalesce(text, '') FROM letters")
        op.execute("CREATE TRIGGER letters_fts_insert AFTER INSERT ON letters BEGIN "
                   "INSERT INTO letters_fts (rowid, letter_id, text) VALUES (new.rowid, new.letter_id, coalesce(new.text, '')); END")
        op.execute("CREATE TRIGGER letters_fts_delete AFTER DELETE ON letters BEGIN "
                   "DELETE FROM letters_fts WHERE rowid = old.rowid; END")
        op.execute("CREATE TRIGGER letters_fts_update AFTER UPDATE OF text, letter_id ON letters BEGIN "
                   "DELETE FROM letters_fts WHERE rowid = old.rowid; "
                   "INSERT INTO letters_fts (rowid, letter_id, text) VALUES (new.rowid, new.letter_id, coalesce(new.text, '')); END")
    else:
        op.execute("CREATE INDEX ix_letters_text_fts ON letters USING gin (to_tsvector('simple', coalesce(text, '')))")


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for name in ("letters_fts_insert", "letters_fts_delete", "letters_fts_update"):
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        op.execute("DROP TABLE IF EXISTS letters_fts")
    else:
        op.execute("DROP INDEX IF EXISTS ix_letters_text_fts")
