"""the one-default index of the links carries the account (PostgreSQL): a resolve reads the person's default link
from the index alone (an index-only scan), not from the table

Revision ID: 9c4e1a7b3d52
Revises: 5e1f0c2b9a47
Create Date: 2026-12-01 18:00:00.000000

"""
from typing import Sequence, Union

import sqlalchemy as sa
from alembic import op


# revision identifiers, used by Alembic.
revision: str = '9c4e1a7b3d52'
down_revision: Union[str, Sequence[str], None] = '5e1f0c2b9a47'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    if op.get_bind().dialect.name != 'postgresql':
        return  # SQLite has no INCLUDE: its index stays as it is
    # In one transaction: the one-default rule is never without its unique index for another transaction to see.
    op.drop_index('ix_links_one_default', table_name='links', postgresql_where=sa.text('is_default'))
    op.create_index('ix_links_one_default', 'links', ['ref_type', 'person_ref'], unique=True,
                    postgresql_where=sa.text('is_default'), postgresql_include=['account_id'])


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name != 'postgresql':
        return
    op.drop_index('ix_links_one_default', table_name='links', postgresql_where=sa.text('is_default'))
    op.create_index('ix_links_one_default', 'links', ['ref_type', 'person_ref'], unique=True,
                    postgresql_where=sa.text('is_default'))
