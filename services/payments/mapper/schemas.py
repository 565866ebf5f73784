"""Wire shapes of the mapper."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from services.common.paging import Page
from services.payments.ledger.models import AccountKind
from services.payments.ledger.schemas import Address, Slug, SubRef
from services.payments.mapper.models import RefType


class PaymentAddress(BaseModel):
    """Where money for a person goes: an FSP and the account (or wallet number) there."""

    model_config = ConfigDict(extra="forbid")

    fsp_id: Slug
    address: Address = Field(description="Account number at the FSP, or the wallet's phone number.")


class LinkCreate(PaymentAddress):
    ref_type: RefType = RefType.sub
    person_ref: SubRef
    default: bool = Field(default=False, description="Make it the default; the first link always is.")


class MyLinkCreate(PaymentAddress):
    default: bool = False


class LinkUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    default: bool | None = Field(default=None, description="true: this link becomes the default.")
    target: PaymentAddress | None = Field(default=None, description="Point the link at another account.")


class LinkRead(BaseModel):
    id: str
    ref_type: RefType
    person_ref: str
    fsp_id: str
    address: str
    address_kind: AccountKind
    account_id: str
    default: bool
    created_at: datetime
    updated_at: datetime


class LinkPage(Page[LinkRead]):
    """A page of a person's payment links, oldest first."""


class ResolveQuery(BaseModel):
    """The query of `GET /v1/mapper/resolve`: whom to resolve."""

    ref: SubRef
    ref_type: RefType = RefType.sub


class Resolution(BaseModel):
    ref_type: RefType
    person_ref: str
    fsp_id: str
    address: str
    address_kind: AccountKind
    account_id: str


class ResolveMany(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref_type: RefType = RefType.sub
    person_refs: Annotated[list[SubRef], Field(min_length=1, max_length=1000)]


class ResolvedMany(BaseModel):
    resolved: list[Resolution]
    unresolved: list[str] = Field(description="References with no payment address (reported, never dropped).")
