"""consents keep room for HOT updates

Revision ID: c4f1a9d2b7e3
Revises: 53daad9a4c09
Create Date: 2026-12-01 15:10:00.000000

"""
from typing import Sequence, Union

from alembic import op


# revision identifiers, used by Alembic.
revision: str = 'c4f1a9d2b7e3'
down_revision: Union[str, Sequence[str], None] = '53daad9a4c09'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    # Every permit updates its artefact's row (uses, last use, window). With pages filled to 80%, the new row version
    # usually fits in the same page, so PostgreSQL updates it in place of the old (HOT) without touching any of the
    # four indexes. Applies to pages written from now on; existing pages keep their fill until rewritten.
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE consents SET (fillfactor = 80)")


def downgrade() -> None:
    """Downgrade schema."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("ALTER TABLE consents RESET (fillfactor)")
