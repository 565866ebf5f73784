"""Wire shapes of adjudication: ids and signals only, never personal data or a UIN."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from services.common.paging import Page
from services.identity.adjudication.models import CaseStatus, Decision, MatchSignal
from services.identity.persons.models import PersonStatus


class AdjudicationCaseRead(BaseModel):
    id: str
    status: CaseStatus
    person_id: str = Field(description="The held enrolment.")
    person_status: PersonStatus
    candidate_person_ids: list[str] = Field(description="Enrolled persons it may duplicate, oldest first.")
    match_signals: list[MatchSignal]
    decision: Decision | None
    created_at: datetime
    decided_at: datetime | None


class AdjudicationCasePage(Page[AdjudicationCaseRead]):
    """A page of the adjudication queue."""


class AdjudicationDecision(BaseModel):
    model_config = ConfigDict(extra="forbid")

    decision: Decision = Field(
        description="`distinct`: a different person, the UIN is issued. `duplicate`: the same person as the first "
        "candidate; the enrolment is refused and linked to that record."
    )
