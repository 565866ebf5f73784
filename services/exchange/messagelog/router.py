"""The message log for auditors: entries by message id, a full export for offline verification, a verification."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from services.common.auth import SessionDep
from services.common.paging import PageParams
from services.common.problems import InvalidInput, PolicyDenied, problem_responses
from services.exchange.deps import AuditorDep
from services.exchange.messagelog import reading
from services.exchange.messagelog.schemas import (
    FindingRead,
    LogEntryPage,
    LogExport,
    VerificationReport,
)
from services.exchange.messagelog.service import message_log

router = APIRouter(prefix="/v1/message-log", tags=["message log"])


@router.get(
    "",
    summary="Message-log entries, a page at a time (auditor)",
    description="Both sides' entries in the log's order (the consumer chain, then the provider chain, each by "
    "sequence), optionally of one message id. Entries hold hashes, never payloads. The whole log for offline "
    "verification is at `/v1/message-log/export`.",
    response_model=LogEntryPage,
    responses=problem_responses(PolicyDenied, InvalidInput),
)
async def list_entries(
    session: SessionDep,
    caller: AuditorDep,
    paging: PageParams,
    message_id: Annotated[str | None, Query(max_length=64)] = None,
) -> LogEntryPage:
    return await message_log.page(session, paging, message_id=message_id)


@router.get(
    "/export",
    summary="Export the whole log for offline verification (auditor)",
    description="Save it and run `dpi-sandbox exchange verify-log --file <export>`: nothing but the file is needed. "
    "The entries and heads are those of one moment, streamed as they are read, so a log of any length exports.",
    response_model=LogExport,
    responses=problem_responses(PolicyDenied),
)
async def export(request: Request, caller: AuditorDep) -> StreamingResponse:
    body = reading.export(request.app.state.sessionmaker, request.app.state.signing_key.jwks())
    return StreamingResponse(body, media_type="application/json")


@router.get(
    "/verify",
    summary="Verify the log's signatures, hashes, chain and heads (auditor)",
    description="Names every altered, deleted or swapped entry; the log is read in one snapshot, a page at a time.",
    response_model=VerificationReport,
    responses=problem_responses(PolicyDenied),
)
async def verify(request: Request, session: SessionDep, caller: AuditorDep) -> VerificationReport:
    report = await reading.verify(session, request.app.state.signing_key.jwks())
    return VerificationReport(
        ok=report.ok, entries=report.entries, findings=[FindingRead(**asdict(f)) for f in report.findings]
    )
