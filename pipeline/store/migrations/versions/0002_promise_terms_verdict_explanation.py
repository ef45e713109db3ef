"""promise terms, per-pair facts and verdict explanation

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01 22:40:00

The promise-aware verdict stores what it read of the promise (deadline, quantity, scope) with the
promise, and what it read of the passage (as-of date, reported quantity, state) with each pair, plus
the explanation shown to reviewers.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('promises') as batch:
        batch.add_column(sa.Column('terms', sa.JSON(), nullable=True))
    with op.batch_alter_table('matches') as batch:
        batch.add_column(sa.Column('as_of', sa.Date(), nullable=True))
        batch.add_column(sa.Column('facts', sa.JSON(), nullable=True))
        batch.add_column(sa.Column('explanation', sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('matches') as batch:
        batch.drop_column('explanation')
        batch.drop_column('facts')
        batch.drop_column('as_of')
    with op.batch_alter_table('promises') as batch:
        batch.drop_column('terms')
