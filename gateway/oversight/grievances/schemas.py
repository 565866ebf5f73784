from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gateway.oversight.grievances.models import GrievanceCategory, GrievanceStatus
from services.common.assertion import Channel
from services.common.paging import Page

Reference = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.:-]+$")]


class GrievanceCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    category: GrievanceCategory
    description: Annotated[str, StringConstraints(min_length=1, max_length=2000, strip_whitespace=True)] = Field(
        description="What went wrong, in the person's own words."
    )
    rule_id: Annotated[str, StringConstraints(pattern=r"^SG-[A-Z]+-[0-9]+$")] | None = Field(
        default=None, description="The rule of a denial being contested (from its problem body)."
    )
    audit_event_id: Reference | None = Field(default=None, description="The audit event of the decision contested.")
    payment_record_id: Reference | None = Field(
        default=None, description="A disputed payment's signed record (SG-GRIEV-4)."
    )
    consent_id: Reference | None = None
    channel: Channel = Field(default="web", description="How the person reached us: web, app, ussd, sms, assisted.")


class GrievanceTransition(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Literal[GrievanceStatus.acknowledged, GrievanceStatus.in_review, GrievanceStatus.resolved]
    note: Annotated[str, StringConstraints(min_length=1, max_length=2000)] | None = None


class ServiceStandard(BaseModel):
    """The published time limits a grievance is handled within (sandbox configuration, not a framework mandate)."""

    acknowledge_within_hours: int
    resolve_within_days: int
    payment_disputes_resolve_within_days: int
    escalates_to: str = "oversight"
    note: str = (
        "These numbers are sandbox configuration. The frameworks ask for published service standards and time limits "
        "without fixing values."
    )


class Sla(BaseModel):
    acknowledge_by: datetime
    resolve_by: datetime
    overdue: bool = Field(description="Past a time limit by the sandbox clock and not yet met.")


class Related(BaseModel):
    rule_id: str | None = None
    audit_event_id: str | None = None
    payment_record_id: str | None = None
    consent_id: str | None = None


class GrievanceHistoryEntry(BaseModel):
    status: GrievanceStatus
    actor: str
    channel: str | None
    note: str | None
    at: datetime


class GrievanceRead(BaseModel):
    id: str
    status: GrievanceStatus
    category: GrievanceCategory
    description: str
    channel: str
    assisted_by: str | None
    related: Related
    sla: Sla
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    escalated_at: datetime | None
    resolution: str | None
    created_at: datetime
    history: list[GrievanceHistoryEntry]


class GrievancePage(Page[GrievanceRead]):
    """A page of grievances, oldest first."""


class EscalationRun(BaseModel):
    escalated: list[str]
