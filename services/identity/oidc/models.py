"""OIDC state: registered clients, sign-in transactions, authorization codes, access tokens, used client assertions.

Codes and access tokens are stored only as SHA-256 hashes: they are 256-bit random strings, so a plain hash is
enough to make a database copy useless for replay.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.columns import EnumColumn, Id
from services.common.db import UTCDateTime
from services.identity.base import Base

PortableJSON = JSON().with_variant(JSONB(), "postgresql")


class TransactionStatus(StrEnum):
    pending = "pending"
    completed = "completed"
    cancelled = "cancelled"


class OidcClient(Base):
    __tablename__ = "oidc_clients"

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    redirect_uris: Mapped[list[str]] = mapped_column(PortableJSON)
    jwks: Mapped[dict[str, Any]] = mapped_column(PortableJSON)  # public keys only
    allowed_scopes: Mapped[list[str]] = mapped_column(PortableJSON)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())


class OidcTransaction(Base):
    """One sign-in, from a validated authorize request until a code is issued (or the person cancels)."""

    __tablename__ = "oidc_transactions"

    id: Mapped[Id] = mapped_column(primary_key=True)
    client_id: Mapped[str] = mapped_column(ForeignKey("oidc_clients.client_id"), index=True)
    # The gateway client (the person's app, a relying party) that opened it: the only one that may continue it.
    opened_by: Mapped[str | None] = mapped_column(String(200))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    scopes: Mapped[list[str]] = mapped_column(PortableJSON)
    state: Mapped[str | None] = mapped_column(String(1000))
    nonce: Mapped[str | None] = mapped_column(String(1000))
    code_challenge: Mapped[str] = mapped_column(String(128))
    status: Mapped[TransactionStatus] = mapped_column(EnumColumn(TransactionStatus))
    person_id: Mapped[str | None] = mapped_column(ForeignKey("persons.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OidcAuthorizationCode(Base):
    """Single use, short-lived, bound to the client, the redirect URI and the PKCE challenge."""

    __tablename__ = "oidc_authorization_codes"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    transaction_id: Mapped[str] = mapped_column(ForeignKey("oidc_transactions.id"), index=True)
    client_id: Mapped[str] = mapped_column(String(100))
    redirect_uri: Mapped[str] = mapped_column(String(2000))
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"))
    scopes: Mapped[list[str]] = mapped_column(PortableJSON)
    nonce: Mapped[str | None] = mapped_column(String(1000))
    code_challenge: Mapped[str] = mapped_column(String(128))
    acr: Mapped[str] = mapped_column(String(100))
    amr: Mapped[list[str]] = mapped_column(PortableJSON)
    auth_time: Mapped[datetime] = mapped_column(UTCDateTime())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OidcAccessToken(Base):
    __tablename__ = "oidc_access_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    code_hash: Mapped[str] = mapped_column(String(64), index=True)  # to revoke everything a replayed code minted
    client_id: Mapped[str] = mapped_column(String(100))
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), index=True)
    scopes: Mapped[list[str]] = mapped_column(PortableJSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class OidcClientAssertion(Base):
    """A private_key_jwt `jti` already accepted: each client assertion works once (RFC 7523 §3)."""

    __tablename__ = "oidc_client_assertions"

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    jti: Mapped[str] = mapped_column(String(200), primary_key=True)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), index=True)
