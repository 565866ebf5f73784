"""batch items paid without index writes: the status index replaced by a partial index of failed items, pages
filled to 40% (PostgreSQL) so that an item's paid version fits beside it

Revision ID: 5e1f0c2b9a47
Revises: c3a91e5d7f20
Create Date: 2026-12-01 14:55:00.000000

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '5e1f0c2b9a47'
down_revision: Union[str, Sequence[str], None] = 'c3a91e5d7f20'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.drop_index('ix_batch_items_batch_id_status', table_name='batch_items')
    op.create_index('ix_batch_items_failed', 'batch_items', ['batch_id', 'seq'], unique=False,
                    postgresql_where=sa.text('reason IS NOT NULL'), sqlite_where=sa.text('reason IS NOT NULL'))
    if op.get_bind().dialect.name == 'postgresql':
        # New pages only; the rows already stored keep their pages until rewritten.
        op.execute('ALTER TABLE batch_items SET (fillfactor = 40)')


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE batch_items RESET (fillfactor)')
    op.drop_index('ix_batch_items_failed', table_name='batch_items')
    op.create_index('ix_batch_items_batch_id_status', 'batch_items', ['batch_id', 'status'], unique=False)
