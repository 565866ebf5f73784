"""A registered client: an organisation (or a trainer's or operator's console) that may call the gateway."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import JSON, Boolean, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from gateway.db import Base
from services.common.db import UTCDateTime

PortableJSON = JSON().with_variant(JSONB(), "postgresql")


class ClientKind(StrEnum):
    relying_party = "relying_party"  # an agency, clinic or bank that verifies people and fetches their data
    fsp = "fsp"  # a financial service provider: moves money
    programme = "programme"  # a G2P programme: disburses money
    registrars_office = "registrars_office"
    law_enforcement = "law_enforcement"
    auditor = "auditor"
    oversight = "oversight"
    trainer = "trainer"
    assisted_operator = "assisted_operator"  # a field agent's console acting for people in person
    registry_office = "registry_office"  # the civil or social registry's own office: keeps its register
    scheme_operator = "scheme_operator"  # the payment scheme's operator: participants, accounts, funding
    platform_operator = "platform_operator"  # runs the exchange's directory and the purpose registry's drafts
    grievance_office = "grievance_office"  # the desk that handles people's complaints
    text_channel = "text_channel"  # a USSD/SMS aggregator relaying people's menu sessions (gateway/channels)


class ClientStatus(StrEnum):
    pending = "pending"
    approved = "approved"
    suspended = "suspended"


# Kinds that move money are sender-constrained (DPoP) whatever their registration says (FAPI 2.0).
MONEY_MOVING = frozenset({ClientKind.fsp, ClientKind.programme, ClientKind.scheme_operator})
# Kinds that receive personal data need a DPIA and an HRIA before approval (SG-HRIA-1).
IMPACT_ASSESSED = frozenset({ClientKind.relying_party, ClientKind.fsp, ClientKind.programme})
# The roles a kind may hold; the registration picks from these (least privilege). Each service's administrative
# role belongs to the one kind of organisation that does that job, never to the organisations that use the service:
# a programme disburses but cannot post to the ledger, a registrar enrols but cannot edit the social registry.
KIND_ROLES: dict[ClientKind, tuple[str, ...]] = {
    ClientKind.relying_party: ("relying_party",),
    ClientKind.fsp: ("fsp", "relying_party"),
    ClientKind.programme: ("programme", "relying_party"),
    ClientKind.registrars_office: ("registrar", "adjudicator"),
    ClientKind.law_enforcement: ("law_enforcement",),
    ClientKind.auditor: ("auditor",),
    ClientKind.oversight: ("oversight", "oidc_admin"),
    ClientKind.trainer: ("trainer",),
    ClientKind.assisted_operator: ("assisted_operator",),
    ClientKind.registry_office: ("civil_registrar", "social_registry_officer"),
    ClientKind.scheme_operator: ("payments_operator",),
    ClientKind.platform_operator: ("exchange_admin", "purpose_admin"),
    ClientKind.grievance_office: ("grievance_officer",),
    ClientKind.text_channel: ("text_channel",),
}


class Client(Base):
    __tablename__ = "clients"

    client_id: Mapped[str] = mapped_column(String(100), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(32), index=True)
    roles: Mapped[list[str]] = mapped_column(PortableJSON)
    scopes: Mapped[list[str]] = mapped_column(PortableJSON)
    purposes: Mapped[list[str]] = mapped_column(PortableJSON)
    jurisdiction: Mapped[str | None] = mapped_column(String(8))
    processing_location: Mapped[str | None] = mapped_column(String(8))
    jwks: Mapped[dict[str, Any] | None] = mapped_column(PortableJSON)  # public keys only
    jwks_uri: Mapped[str | None] = mapped_column(String(2000))
    dpop_required: Mapped[bool] = mapped_column(Boolean)
    dpia_ref: Mapped[str | None] = mapped_column(String(200))
    hria_ref: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), index=True)
    status_reason: Mapped[str | None] = mapped_column(String(1000))
    registered_by: Mapped[str] = mapped_column(String(200))
    registered_at: Mapped[datetime] = mapped_column(UTCDateTime())
    approved_by: Mapped[str | None] = mapped_column(String(200))
    approved_at: Mapped[datetime | None] = mapped_column(UTCDateTime())
    status_changed_at: Mapped[datetime] = mapped_column(UTCDateTime())
