"""Public statistics (SG-TRANSP-1, SG-GRIEV-2): evidence an oversight body and the public can read without a token,
with small-cell suppression so that no number singles out a person."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.oversight.grievances.models import GrievanceCategory, GrievanceStatus
from gateway.oversight.grievances.repository import GrievanceRepository
from gateway.oversight.grievances.service import GrievanceRuntime, is_overdue, met_its_time_limit
from gateway.oversight.suppression import SuppressedTable, suppress_table
from services.common.auth import SessionDep

router = APIRouter(prefix="/governance/stats", tags=["governance"])

GRIEVANCE_OUTCOMES = ["resolved_in_time", "resolved_late", "open_in_time", "open_overdue", "escalated"]


class SuppressedCounts(BaseModel):
    """A table of counts; `null` marks a number withheld because it (or what it would reveal) is under k."""

    k: int = Field(description="The smallest count published; smaller ones are withheld (sandbox configuration).")
    columns: list[str]
    rows: dict[str, dict[str, int | None]]
    row_totals: dict[str, int | None]
    column_totals: dict[str, int | None]
    total: int | None
    withheld: int = Field(description="How many cells are withheld.")

    @classmethod
    def of(cls, table: SuppressedTable, columns: list[str]) -> SuppressedCounts:
        return cls(
            k=table.k,
            columns=columns,
            rows=table.cells,
            row_totals=table.row_totals,
            column_totals=table.column_totals,
            total=table.total,
            withheld=table.suppressed,
        )


class GrievanceStatistics(BaseModel):
    by_category: SuppressedCounts
    in_time_share: float | None = Field(
        description="Resolved within the time limit, among resolved tickets (omitted when the counts are withheld)."
    )


async def grievance_statistics(session: AsyncSession, rt: GrievanceRuntime, *, k: int) -> GrievanceStatistics:
    now = rt.clock.now()
    counts = {category.value: dict.fromkeys(GRIEVANCE_OUTCOMES, 0) for category in GrievanceCategory}
    for grievance in await GrievanceRepository.from_session(session).all_for_statistics():
        in_time = met_its_time_limit(grievance)
        if grievance.status == GrievanceStatus.escalated:
            outcome = "escalated"
        elif in_time is not None:
            outcome = "resolved_in_time" if in_time else "resolved_late"
        else:
            outcome = "open_overdue" if is_overdue(grievance, now) else "open_in_time"
        counts[grievance.category][outcome] += 1
    table = suppress_table(counts, GRIEVANCE_OUTCOMES, k=k)
    on_time, late = table.column_totals["resolved_in_time"], table.column_totals["resolved_late"]
    share = on_time / (on_time + late) if on_time is not None and late is not None and on_time + late else None
    return GrievanceStatistics(by_category=SuppressedCounts.of(table, GRIEVANCE_OUTCOMES), in_time_share=share)


def _runtime(request: Request) -> tuple[GrievanceRuntime, int]:
    return request.app.state.grievances, request.app.state.settings.statistics_min_cell


@router.get(
    "/grievances",
    summary="Grievances by category and outcome against their time limits (public, small cells withheld)",
    response_model=GrievanceStatistics,
)
async def public_grievance_statistics(
    session: SessionDep, context: Annotated[tuple[GrievanceRuntime, int], Depends(_runtime)]
) -> GrievanceStatistics:
    rt, k = context
    return await grievance_statistics(session, rt, k=k)
