"""Wire shapes of breach incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from services.common.clock import Instant
from services.common.paging import Page
from services.identity.client import SUB_PATTERN, is_valid_vid

Category = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]


class AffectedPerson(BaseModel):
    """A person the breach touched: their `sub` as the audit log names them, or a VID."""

    model_config = ConfigDict(extra="forbid")

    type: Literal["sub", "vid"]
    value: str = Field(min_length=1, max_length=64)

    @model_validator(mode="after")
    def _shape(self) -> AffectedPerson:
        valid = SUB_PATTERN.fullmatch(self.value) if self.type == "sub" else is_valid_vid(self.value)
        if not valid:
            raise ValueError(f"not a {self.type}")
        return self


class BreachCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    organisation: str = Field(min_length=1, max_length=128, description="Where the breach happened.")
    description: str = Field(min_length=1, max_length=4000, description="What happened (for oversight; not sent).")
    data_categories: list[Category] = Field(
        min_length=1, max_length=50, description="What was exposed, by name (e.g. full_name, phone, vid)."
    )
    found_at: Instant = Field(description="When the breach was discovered: the notice deadline runs from it.")
    affected: list[AffectedPerson] = Field(min_length=1, max_length=10_000)


class AffectedRead(BaseModel):
    sub: str
    notice: Literal["pending", "sent", "failed"]
    notified_at: datetime | None
    in_time: bool | None = Field(description="Told by the deadline; null while the notice is pending.")
    channel: str | None
    language: str | None
    language_fallback: bool | None
    reissued_at: datetime | None


class BreachRead(BaseModel):
    id: str
    organisation: str
    description: str
    data_categories: list[str]
    found_at: datetime
    notify_by: datetime = Field(description="The deadline: every affected person told by then (SG-BREACH-1).")
    recorded_at: datetime
    recorded_by: str
    deadline_missed_at: datetime | None
    audit_event_id: str | None = Field(default=None, description="The audit event that recorded the incident.")
    affected: list[AffectedRead]


class BreachPage(Page[BreachRead]):
    """Incidents, oldest first."""


class ReissueRun(BaseModel):
    """What a reissue changed for the incident's people (counts only: no number leaves identity)."""

    people: int
    vids_revoked: int
    vids_issued: int
    offline_credentials_revoked: int
    not_reissued: int = Field(description="People identity could not reissue for (unknown or inactive).")
