"""The ID-to-account mapper: which payment addresses a person reference resolves to (OpenG2P SPAR, GovStack's
account lookup). A person may have several links; exactly one is the default a payment goes to."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from services.common.db import UTCDateTime
from services.payments.models import Base


class RefType(StrEnum):
    sub = "sub"  # the internal subject reference the gateway translates callers' references to
    token = "token"  # noqa: S105 - a payments-sector token (a pseudonym issued for payments only)


class Link(Base):
    __tablename__ = "links"
    __table_args__ = (
        UniqueConstraint("ref_type", "person_ref", "account_id"),
        # At most one default per person, held by the database whatever the interleaving of requests. On
        # PostgreSQL it carries the account too, so a resolve finds the default link in the index alone (an
        # index-only scan, where vacuum has marked the table's pages all-visible): about 30% less of PostgreSQL's CPU
        # per resolve, measured (docs/benchmarks.md).
        Index(
            "ix_links_one_default",
            "ref_type",
            "person_ref",
            unique=True,
            sqlite_where=text("is_default"),
            postgresql_where=text("is_default"),
            postgresql_include=["account_id"],
        ),
    )

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    ref_type: Mapped[str] = mapped_column(String(8))
    person_ref: Mapped[str] = mapped_column(String(64))
    account_id: Mapped[str] = mapped_column(ForeignKey("accounts.id"), index=True)
    is_default: Mapped[bool] = mapped_column(Boolean)
    created_by: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())
