"""Wire shapes of the client registry."""

from __future__ import annotations

import unicodedata
from datetime import datetime
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from gateway.auth.clients.models import ClientKind, ClientStatus

ClientId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{2,99}$")]
Role = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z_]{1,39}$")]
ScopeName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_.:-]{0,63}$")]
# Purpose codes as the consent registry writes them (SOCIAL_CASH_TRANSFER), or lower case.
PurposeCode = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
Reference = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]


def _visible(value: str) -> str:
    """Refuse control, format (bidi overrides, zero-width) and unassigned characters: names are shown to people."""
    if any(unicodedata.category(ch).startswith("C") for ch in value) or not value.strip():
        raise ValueError("text must be visible characters only (no control, format or zero-width characters)")
    return value


Text = Annotated[str, StringConstraints(min_length=1, max_length=200), AfterValidator(_visible)]


class Jwks(BaseModel):
    keys: list[dict[str, Any]] = Field(min_length=1, max_length=5, description="Public JWKs (EC P-256 or RSA).")


class ClientCreate(BaseModel):
    """An organisation's registration: who it is, its public keys, what it may do and where it processes data."""

    model_config = ConfigDict(extra="forbid")

    client_id: ClientId = Field(examples=["social-welfare-agency"])
    name: Text = Field(examples=["Social Welfare Agency"])
    kind: ClientKind
    roles: list[Role] | None = Field(
        default=None, max_length=5, description="Roles from those the kind allows; default: the kind's first role."
    )
    scopes: list[ScopeName] = Field(default_factory=list, max_length=50)
    purposes: list[PurposeCode] = Field(default_factory=list, max_length=50, description="Purposes it may act for.")
    jurisdiction: Country | None = None
    processing_location: Country | None = Field(default=None, description="Where it processes data (ISO 3166-1).")
    jwks: Jwks | None = Field(default=None, description="Its public signing keys; or give jwks_uri.")
    jwks_uri: Annotated[str, StringConstraints(max_length=2000, pattern=r"^https?://[\x21-\x7e]+$")] | None = Field(
        default=None, description="Where its JWKS is published; must be on the gateway's allow-list."
    )
    dpop_required: bool = Field(
        default=False, description="Sender-constrain its tokens with DPoP; always on for FSPs and programmes."
    )
    dpia_ref: Reference | None = Field(default=None, description="Data protection impact assessment (SG-HRIA-1).")
    hria_ref: Reference | None = Field(default=None, description="Human-rights impact assessment (SG-HRIA-1).")


class StatusChange(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Text | None = None


class ClientRead(BaseModel):
    client_id: str
    name: str
    kind: ClientKind
    roles: list[str]
    scopes: list[str]
    purposes: list[str]
    jurisdiction: str | None
    processing_location: str | None
    jwks: Jwks | None
    jwks_uri: str | None
    dpop_required: bool
    dpia_ref: str | None
    hria_ref: str | None
    status: ClientStatus
    status_reason: str | None
    registered_by: str
    registered_at: datetime
    approved_by: str | None
    approved_at: datetime | None


class ClientList(BaseModel):
    items: list[ClientRead]
