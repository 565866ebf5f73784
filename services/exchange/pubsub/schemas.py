"""Wire shapes of publish/subscribe."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from services.exchange.members.schemas import EventType


class SubscriptionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    service: Annotated[str, StringConstraints(min_length=1, max_length=240)]
    event_type: EventType = Field(examples=["exchange.civil.birth_registered"])


class SubscriptionRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    subscriber_subsystem_id: str
    service_id: str
    event_type: str
    created_at: datetime
    cancelled_at: datetime | None


class DeliveryRead(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="Acknowledge by this id; until then the delivery is offered again.")
    event_id: str = Field(description="The event's own id: the same event delivered twice has the same one.")
    event_type: str
    payload: dict[str, object] = Field(description="Only the fields the subscriber's access right permits.")
    created_at: datetime
