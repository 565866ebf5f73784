"""received payments indexes

Revision ID: c3a91e5d7f20
Revises: 7d202b066b24
Create Date: 2026-12-01 13:20:00.000000

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'c3a91e5d7f20'
down_revision: Union[str, Sequence[str], None] = '7d202b066b24'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_index('ix_transfers_payee_account_id_created_at', 'transfers', ['payee_account_id', 'created_at'],
                    unique=False)
    op.create_index('ix_batch_items_person_ref', 'batch_items', ['person_ref'], unique=False)


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_batch_items_person_ref', table_name='batch_items')
    op.drop_index('ix_transfers_payee_account_id_created_at', table_name='transfers')
