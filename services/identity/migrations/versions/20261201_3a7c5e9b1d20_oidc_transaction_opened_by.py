"""oidc transaction opened by

Revision ID: 3a7c5e9b1d20
Revises: 58cbf413ad88
Create Date: 2026-12-01 09:20:00.000000

A sign-in transaction is bound to the gateway client that opened it. Transactions opened before this revision have
no opener recorded (NULL) and can no longer be continued: they live minutes, and the person starts again.
"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

# revision identifiers, used by Alembic.
revision: str = '3a7c5e9b1d20'
down_revision: Union[str, Sequence[str], None] = '58cbf413ad88'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('oidc_transactions', schema=None) as batch_op:
        batch_op.add_column(sa.Column('opened_by', sa.String(length=200), nullable=True))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('oidc_transactions', schema=None) as batch_op:
        batch_op.drop_column('opened_by')
