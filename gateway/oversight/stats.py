"""Public statistics (SG-TRANSP-1, SG-GRIEV-2, SG-BREACH-1, SG-INCL-1/3): evidence an oversight body and the public
can read without a token, with small-cell suppression (gateway/oversight/suppression.py) so that no number, nor any
difference of published numbers, singles out a person. Requests, denials and channels are read from the audit log
(gateway/oversight/tally.py); grievances and breaches from their own tables."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.oversight.breaches.repository import BreachRepository
from gateway.oversight.breaches.service import notice_outcome
from gateway.oversight.grievances.models import GrievanceCategory, GrievanceStatus
from gateway.oversight.grievances.repository import GrievanceRepository
from gateway.oversight.grievances.service import GrievanceRuntime, is_overdue, met_its_time_limit
from gateway.oversight.notices.repository import NoticeRepository
from gateway.oversight.suppression import SuppressedTable, suppress_table
from gateway.oversight.tally import CHANNEL_OUTCOMES, AuditTally
from gateway.rules.catalogue import catalogue
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


RULE_OUTCOMES = ["permitted", "denied"]
BREACH_OUTCOMES = ["told_in_time", "told_late", "overdue", "pending", "undeliverable"]


class RequestStatistics(BaseModel):
    by_rule: SuppressedCounts = Field(
        description="Decisions each rule took part in: `permitted` (the rule was checked and passed on a request "
        "that went through) and `denied` (the rule refused it). One request counts under every rule it passed."
    )
    log_size: int = Field(description="How many audit log entries the figures cover.")


class InclusionStatistics(BaseModel):
    by_channel: SuppressedCounts = Field(
        description="Requests by channel (web, app, ussd, sms, assisted, ...): completed, through the exception "
        "path for people without a foundational ID (SG-INCL-1), or denied."
    )
    assisted_share: float | None = Field(description="Requests on the assisted channel among all (when published).")
    exception_path_share: float | None = Field(description="Requests through the exception path among all.")
    log_size: int


class BreachStatistics(BaseModel):
    incidents_by_month: dict[str, int] = Field(
        description="Incidents recorded, by the month they were found (organisations' incidents, not people)."
    )
    people_by_month: SuppressedCounts = Field(
        description="People affected, by the month the incident was found and what became of their notice."
    )


def _share(part: int | None, whole: int | None) -> float | None:
    return part / whole if part is not None and whole else None


async def _tally(request: Request) -> AuditTally:
    tally: AuditTally = request.app.state.tally
    await tally.refresh()
    return tally


def _k(request: Request) -> int:
    k: int = request.app.state.settings.statistics_min_cell
    return k


@router.get(
    "/requests",
    summary="Requests and denials per safeguard rule, from the audit log (public, small cells withheld)",
    response_model=RequestStatistics,
)
async def request_statistics(
    tally: Annotated[AuditTally, Depends(_tally)], k: Annotated[int, Depends(_k)]
) -> RequestStatistics:
    counts = {rule_id: dict(tally.by_rule.get(rule_id, {})) for rule_id in sorted(catalogue().ids)}
    table = suppress_table(counts, RULE_OUTCOMES, k=k)
    return RequestStatistics(by_rule=SuppressedCounts.of(table, RULE_OUTCOMES), log_size=tally.next_index)


@router.get(
    "/inclusion",
    summary="Requests by channel, exception-path use and the assisted channel's share (public, small cells withheld)",
    response_model=InclusionStatistics,
)
async def inclusion_statistics(
    tally: Annotated[AuditTally, Depends(_tally)], k: Annotated[int, Depends(_k)]
) -> InclusionStatistics:
    counts = {channel: dict(outcomes) for channel, outcomes in sorted(tally.by_channel.items())}
    table = suppress_table(counts, CHANNEL_OUTCOMES, k=k)
    return InclusionStatistics(
        by_channel=SuppressedCounts.of(table, CHANNEL_OUTCOMES),
        assisted_share=_share(table.row_totals.get("assisted", 0), table.total),
        exception_path_share=_share(table.column_totals["exception_path"], table.total),
        log_size=tally.next_index,
    )


@router.get(
    "/breaches",
    summary="Breach incidents and whether their people were told in time (public, small cells withheld)",
    response_model=BreachStatistics,
)
async def breach_statistics(session: SessionDep, request: Request, k: Annotated[int, Depends(_k)]) -> BreachStatistics:
    now = request.app.state.clock.now()
    incidents = await BreachRepository.from_session(session).everything()
    notices = await NoticeRepository.from_session(session).of_incidents([i.id for i in incidents])
    month = {i.id: i.found_at.strftime("%Y-%m") for i in incidents}
    deadline = {i.id: i.notify_by for i in incidents}
    counts: dict[str, dict[str, int]] = {m: dict.fromkeys(BREACH_OUTCOMES, 0) for m in sorted(set(month.values()))}
    for notice in notices:
        assert notice.incident_id is not None
        counts[month[notice.incident_id]][notice_outcome(notice, deadline[notice.incident_id], now)] += 1
    by_month: dict[str, int] = {}
    for found in month.values():
        by_month[found] = by_month.get(found, 0) + 1
    table = suppress_table(counts, BREACH_OUTCOMES, k=k)
    return BreachStatistics(
        incidents_by_month=dict(sorted(by_month.items())), people_by_month=SuppressedCounts.of(table, BREACH_OUTCOMES)
    )
