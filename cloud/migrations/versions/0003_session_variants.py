"""lab sessions run an assessed variant of the pack's scenario

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 02:30:00

``variant`` holds the seed the hub drew and the onset, severity and timings
it gave; like the ground truth it stays hidden from learners until close.

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op

revision: str = '0003'
down_revision: Union[str, Sequence[str], None] = '0002'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('lab_sessions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('variant', sa.JSON(), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('lab_sessions', schema=None) as batch_op:
        batch_op.drop_column('variant')
