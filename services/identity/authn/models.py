"""Authentication state: one-time code challenges (hashes only), PIN hashes and the auth history."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import JSON, ForeignKey, Index, Integer, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from services.common.columns import EnumColumn, Id
from services.common.db import UTCDateTime
from services.identity.base import Base


class Factor(StrEnum):
    otp = "otp"
    pin = "pin"
    biometric = "biometric"
    offline_qr = "offline_qr"
    assisted = "assisted"
    kyc = "kyc"  # eKYC releases recorded before they required a factor of the person's (until 2026-11-25)
    access_token = "access_token"  # noqa: S105 (an OIDC userinfo release on a relying party's access token)


class PersonFactor(StrEnum):
    """The factors that prove the person is present (the others record a release, not the person): each can be
    locked by the person, and a success with any of them ends a run of failures."""

    otp = Factor.otp.value
    pin = Factor.pin.value
    biometric = Factor.biometric.value
    offline_qr = Factor.offline_qr.value
    assisted = Factor.assisted.value


# The factors that prove the person is present *now*, so that a success with one of them may end a run of failures
# (and a guessing pause). Not the offline QR credential: it is a bearer artefact, the card a person shows to any
# verifier, and whoever holds a copy can replay it; a success with it proves the card, not the person.
PROVING_FACTORS = tuple(f.value for f in PersonFactor if f is not PersonFactor.offline_qr)

# Refusals that checked nothing, so are not guesses: the person locked the factor, or a guess limit held.
NOT_A_GUESS_SUFFIXES = (".locked", ".paused", ".ceiling")


class Operation(StrEnum):
    authn = "authn"  # yes/no
    predicates = "predicates"  # yes/no plus boolean predicates
    kyc = "kyc"
    oidc_login = "oidc_login"
    userinfo = "userinfo"
    pin_change = "pin_change"


class Result(StrEnum):
    success = "success"
    failure = "failure"


class ChallengeStatus(StrEnum):
    active = "active"
    used = "used"
    exhausted = "exhausted"  # too many wrong guesses
    expired = "expired"
    superseded = "superseded"  # a newer code was sent for the same person, client and scope


class OtpChallenge(Base):
    """A one-time code sent to a person: only an HMAC of it is kept, bound to the requesting client and scope."""

    __tablename__ = "otp_challenges"
    __table_args__ = (Index("ix_otp_challenges_lookup", "person_id", "client_id", "scope", "status"),)

    id: Mapped[Id] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"))
    client_id: Mapped[str] = mapped_column(String(200))
    scope: Mapped[str] = mapped_column(String(100))  # "authn", or "oidc:<transaction id>"
    code_hash: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str] = mapped_column(String(16))
    status: Mapped[ChallengeStatus] = mapped_column(EnumColumn(ChallengeStatus))
    attempts: Mapped[int] = mapped_column(Integer)
    max_attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime())
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime())


class PinCredential(Base):
    """A person's PIN as an Argon2id hash of a keyed HMAC of it (a database copy alone cannot be brute-forced)."""

    __tablename__ = "pin_credentials"

    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"), primary_key=True)
    pin_hash: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime())
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime())


class AuthEvent(Base):
    """One authentication, predicate check or attribute release about a person: who asked, how, and the result.

    Holds no secrets and no attribute values: only the names of the attributes or predicates involved.
    """

    __tablename__ = "auth_history"
    __table_args__ = (
        Index("ix_auth_history_person", "person_id", "id"),
        Index("ix_auth_history_person_factor", "person_id", "factor", "id"),
    )

    id: Mapped[Id] = mapped_column(primary_key=True)
    person_id: Mapped[str] = mapped_column(ForeignKey("persons.id"))
    occurred_at: Mapped[datetime] = mapped_column(UTCDateTime())
    operation: Mapped[Operation] = mapped_column(EnumColumn(Operation, 32))
    factor: Mapped[Factor] = mapped_column(EnumColumn(Factor, 32))
    result: Mapped[Result] = mapped_column(EnumColumn(Result))
    reason: Mapped[str | None] = mapped_column(String(64))
    client_id: Mapped[str] = mapped_column(String(200))
    channel: Mapped[str] = mapped_column(String(16))
    assisted_by: Mapped[str | None] = mapped_column(String(200))
    purpose: Mapped[str | None] = mapped_column(String(100))
    consent_id: Mapped[str | None] = mapped_column(String(100))
    decision_id: Mapped[str | None] = mapped_column(String(100))
    attributes: Mapped[list[str]] = mapped_column(JSON().with_variant(JSONB(), "postgresql"))
