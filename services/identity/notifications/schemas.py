"""Wire shapes of the messaging simulator."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, Field

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


class SimulatedMessagePage(Page[SimulatedMessageRead]):
    """A page of simulated messages, newest first."""
