"""review queue table, its filter terms and database settings

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:40:00

The review queue is one SQL query over ``queue_letters`` (a row per letter with its effective
state, date, verdicts and order keys) and ``queue_terms`` (cities, politicians, verdicts and
responders to filter on); ``pipeline.store.queue`` fills them and refreshes rows gone stale.
``settings`` holds database-wide settings such as the reviewer overlap.

PostgreSQL full-text search moves from an expression index to a stored, generated ``text_tsv``
column with its GIN index: a prefix query that matches most letters then rechecks the stored
vector instead of parsing every letter's text again (1.4 s -> tens of ms at 10,000 letters).
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0005'
down_revision: str | Sequence[str] | None = '0004'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'queue_letters',
        sa.Column('letter_id', sa.String(16), sa.ForeignKey('letters.letter_id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('source_file', sa.Text(), nullable=False),
        sa.Column('status', sa.String(16), nullable=False),
        sa.Column('reasons', sa.Text(), nullable=False),
        sa.Column('letter_date', sa.String(10), nullable=False),
        sa.Column('sender_city', sa.Text(), nullable=False),
        sa.Column('politicians', sa.JSON(), nullable=False),
        sa.Column('cities', sa.JSON(), nullable=False),
        sa.Column('verdicts', sa.JSON(), nullable=False),
        sa.Column('model_versions', sa.JSON(), nullable=False),
        sa.Column('promises', sa.Integer(), nullable=False),
        sa.Column('decided', sa.Integer(), nullable=False),
        sa.Column('min_confidence', sa.Float(), nullable=True),
        sa.Column('order_conf', sa.Float(), nullable=False),
        sa.Column('needs_review', sa.Boolean(), nullable=False),
        sa.Column('order_needs', sa.Integer(), nullable=False),
        sa.Column('state', sa.String(16), nullable=False),
        sa.Column('touched', sa.Boolean(), nullable=False),
        sa.Column('complete', sa.Boolean(), nullable=False),
        sa.Column('bucket', sa.Integer(), nullable=False),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('processed_at', sa.DateTime(), nullable=True),
        sa.Column('review_mark', sa.Integer(), nullable=False),
        sa.Column('match_mark', sa.Integer(), nullable=False),
    )
    op.create_index('ix_queue_letters_order', 'queue_letters', ['order_needs', 'order_conf', 'source_file', 'letter_id'])
    op.create_index('ix_queue_letters_state', 'queue_letters', ['state'])
    op.create_index('ix_queue_letters_letter_date', 'queue_letters', ['letter_date'])
    op.create_table(
        'queue_terms',
        sa.Column('letter_id', sa.String(16), sa.ForeignKey('letters.letter_id', ondelete='CASCADE'),
                  primary_key=True),
        sa.Column('kind', sa.String(16), primary_key=True),
        sa.Column('term', sa.String(255), primary_key=True),
        sa.Column('label', sa.Text(), nullable=False),
    )
    # (kind, term, letter_id): a filter finds its letters from the index alone, without the table.
    op.create_index('ix_queue_terms_kind_term', 'queue_terms', ['kind', 'term', 'letter_id'])
    op.create_index('ix_queue_terms_kind_label', 'queue_terms', ['kind', 'label'])  # the filters' datalists
    # The queue's fingerprint (count, versions, latest processing) from an index, not the wide letters table.
    op.create_index('ix_letters_queue_stamp', 'letters', ['processed_at', 'version'])
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_letters_text_fts")
        op.execute("ALTER TABLE letters ADD COLUMN text_tsv tsvector "
                   "GENERATED ALWAYS AS (to_tsvector('simple', coalesce(text, ''))) STORED")
        op.execute("CREATE INDEX ix_letters_text_tsv ON letters USING gin (text_tsv)")
    op.create_table(
        'settings',
        sa.Column('key', sa.String(64), primary_key=True),
        sa.Column('value', sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('settings')
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_letters_text_tsv")
        op.execute("ALTER TABLE letters DROP COLUMN IF EXISTS text_tsv")
        op.execute("CREATE INDEX ix_letters_text_fts ON letters USING gin (to_tsvector('simple', coalesce(text, '')))")
    op.drop_index('ix_letters_queue_stamp', 'letters')
    op.drop_index('ix_queue_terms_kind_label', 'queue_terms')
    op.drop_index('ix_queue_terms_kind_term', 'queue_terms')
    op.drop_table('queue_terms')
    op.drop_index('ix_queue_letters_letter_date', 'queue_letters')
    op.drop_index('ix_queue_letters_state', 'queue_letters')
    op.drop_index('ix_queue_letters_order', 'queue_letters')
    op.drop_table('queue_letters')
