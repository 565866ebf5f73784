"""Enrolment across two domains: persons enrols, and adjudication opens the case when it holds a suspected duplicate.

Composed here so that adjudication depends on persons and never the other way round.
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.identity.adjudication.service import adjudication as adjudication_service
from services.identity.deps import Runtime
from services.identity.persons.schemas import EnrolmentCreate, EnrolmentResult
from services.identity.persons.service import person as person_service


async def enrol(session: AsyncSession, caller: Caller, body: EnrolmentCreate, *, rt: Runtime) -> EnrolmentResult:
    """Enrol a person; a suspected duplicate is held and its adjudication case opened (SG-ID-1)."""
    return await person_service.enrol(session, caller, body, rt=rt, hold=adjudication_service.open_case)
