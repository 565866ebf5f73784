"""drop the postings' reference index, which no query reads

Every posting (a transfer's, a fee's, each of a disbursement's) wrote an entry into ix_postings_reference, and no
statement of the service looks postings up by their reference: they are read by id, by account (the debit and credit
account indexes) and through their transfer or batch. The column stays; only its index goes.

Revision ID: 4f6d2a8c1e07
Revises: 9c4e1a7b3d52
Create Date: 2026-12-02 21:55:00.000000

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = '4f6d2a8c1e07'
down_revision: Union[str, Sequence[str], None] = '9c4e1a7b3d52'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.drop_index('ix_postings_reference', table_name='postings')


def downgrade() -> None:
    """Downgrade schema."""
    op.create_index('ix_postings_reference', 'postings', ['reference'], unique=False)
