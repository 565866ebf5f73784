"""Selects of the identity-exception domain."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select

from services.common.paging import PageRequest
from services.common.repository import Repository
from services.identity.exceptions.models import ExceptionStatus, IdentityExceptionCase


class ExceptionCaseRepository(Repository[IdentityExceptionCase]):
    model = IdentityExceptionCase

    async def queue_page(
        self, paging: PageRequest, *, status: ExceptionStatus | None, overdue_at: datetime | None
    ) -> Sequence[IdentityExceptionCase]:
        """A page of cases in id (= creation) order; `overdue_at` keeps pending ones past due."""
        statement = select(IdentityExceptionCase)
        if status is not None:
            statement = statement.where(IdentityExceptionCase.status == status)
        if overdue_at is not None:
            statement = statement.where(
                IdentityExceptionCase.status == ExceptionStatus.pending, IdentityExceptionCase.sla_due_at < overdue_at
            )
        return await self.page(statement, paging)
