"""run status: finished / interrupted with a reason, and who runs it

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 23:00:00

A run stopped by a fault (disk full, a write error, a lock) or by a signal is marked
``interrupted`` with its reason; a later run marks runs whose process is gone as interrupted
too. ``host`` and ``pid`` say which process a run belongs to, to tell a live run from a dead one.
"""
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: str | Sequence[str] | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('runs') as batch:
        batch.add_column(sa.Column('status', sa.String(16), nullable=True))
        batch.add_column(sa.Column('reason', sa.Text(), nullable=True))
        batch.add_column(sa.Column('host', sa.String(255), nullable=True))
        batch.add_column(sa.Column('pid', sa.Integer(), nullable=True))
        batch.add_column(sa.Column('pid_started', sa.Float(), nullable=True))
    # Runs from before this revision: finished ones are "finished"; unfinished ones stay NULL
    # and are marked interrupted by the next run.
    op.execute("UPDATE runs SET status = 'finished' WHERE finished_at IS NOT NULL")


def downgrade() -> None:
    with op.batch_alter_table('runs') as batch:
        batch.drop_column('pid_started')
        batch.drop_column('pid')
        batch.drop_column('host')
        batch.drop_column('reason')
        batch.drop_column('status')
