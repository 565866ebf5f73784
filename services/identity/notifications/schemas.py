"""Wire shapes of the messaging simulator."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.common.clock import Instant
from services.common.paging import Page
from services.identity.notifications.models import MessageChannel, MessageKind


class SimulatedMessageRead(BaseModel):
    """A message the sandbox would have sent by SMS or e-mail. Simulator output: nothing leaves the sandbox."""

    id: str
    recipient_sub: str
    channel: MessageChannel
    destination: str = Field(description="The phone number or e-mail address, masked.", examples=["******0101"])
    kind: MessageKind
    language: str = Field(description="The template language used.", examples=["en"])
    language_fallback: bool = Field(description="True when the person's language has no template yet (SG-GENDER-1).")
    body: str
    created_at: datetime


class NoticeRequest(BaseModel):
    """The gateway asks identity to tell a person about an access to their data or a breach: identity alone holds
    their contact details and language."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal[MessageKind.data_access, MessageKind.breach]
    organisation: str = Field(min_length=1, max_length=128, description="Who received the data, or who was breached.")
    items: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        min_length=1, max_length=50, description="The data items received, or the categories exposed."
    )
    purpose: str | None = Field(default=None, max_length=64, description="data_access: the purpose of the use.")
    at: Instant = Field(description="When it happened, with its UTC offset.")


class NoticeDelivery(BaseModel):
    message_id: str
    channel: MessageChannel
    language: str
    language_fallback: bool = Field(description="True when the person's language had no translation (SG-GENDER-1).")
    direction: Literal["ltr", "rtl"]


class NotificationRead(BaseModel):
    """A notice in my inbox (SMS, e-mail or app), in my language."""

    id: str
    channel: MessageChannel
    kind: MessageKind
    language: str
    language_fallback: bool
    direction: Literal["ltr", "rtl"] = Field(description="Right-to-left for Arabic; show the text accordingly.")
    body: str
    created_at: datetime


class NotificationPage(Page[NotificationRead]):
    """A page of my notices, newest first."""


class SimulatedMessagePage(Page[SimulatedMessageRead]):
    """A page of simulated messages, newest first."""
