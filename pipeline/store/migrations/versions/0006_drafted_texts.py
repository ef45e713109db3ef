"""drafted texts of the promise pages, by what they were drafted from

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02 17:40:00

``drafted_texts`` keeps each "Лист …" line and "Згідно з листом …" paragraph the drafting made,
keyed by a hash of its inputs (the letter's fields, the evidence, the promise's language) and of
the drafting's own code and dictionaries (:func:`pipeline.lang.draft.drafts_version`): a record
export reads them instead of inflecting every letter's sender again (~1.6 ms an answer, and the
morphology dictionaries' load), and a worker that reads a letter drafts its answers beside it.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | Sequence[str] | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        'drafted_texts',
        sa.Column('key', sa.String(64), primary_key=True),
        sa.Column('text', sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table('drafted_texts')
