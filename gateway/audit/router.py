"""The auditor API: read-only views of the audit log for the auditor and oversight roles (SG-OVERSIGHT-1).

Nothing here changes a stored event: there is no update or delete route (the methods answer 405), and the
database refuses UPDATE and DELETE anyway. The latest checkpoint is public, like a transparency log's.
"""

from __future__ import annotations

import base64
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.responses import StreamingResponse
from pydantic import ValidationError
from starlette.convertors import Convertor, register_url_convertor

from gateway.audit.errors import AppendOnly, AuditEntryNotFound, CheckpointNotFound, ProofUnavailable
from gateway.audit.export import export_lines, verify_export
from gateway.audit.log import AuditLog
from gateway.audit.repository import MissingNode, SearchFilter
from gateway.audit.schemas import (
    AuditEntry,
    CheckpointView,
    ConsistencyProofView,
    CosignatureSubmission,
    EntryPage,
    InclusionProofView,
    VerificationView,
    WitnessRefusal,
)
from gateway.auth.caller import AuthenticatedCaller
from gateway.auth.deps import require_roles
from services.common.clock import Instant
from services.common.problems import InvalidInput, PolicyDenied, Unauthenticated, problem_responses

router = APIRouter(prefix="/audit", tags=["audit"])
Reader = Annotated[AuthenticatedCaller, Depends(require_roles("auditor", "oversight"))]
Overseer = Annotated[AuthenticatedCaller, Depends(require_roles("oversight"))]
ShortText = Annotated[str | None, Query(min_length=1, max_length=128, pattern=r"^[^\x00-\x1f\x7f]+$")]
ACCESS = problem_responses(Unauthenticated, PolicyDenied)


def audit_log(request: Request) -> AuditLog:
    log: AuditLog = request.app.state.audit
    return log


Log = Annotated[AuditLog, Depends(audit_log)]


@router.get(
    "/checkpoint",
    summary="The latest signed checkpoint (public)",
    description="C2SP tlog-checkpoint signed with the log's Ed25519 key, with the witnesses' cosignatures.",
    response_model=CheckpointView,
)
async def latest_checkpoint(log: Log) -> CheckpointView:
    return await log.checkpoint()


@router.get(
    "/checkpoints/{size}",
    summary="The checkpoint of one tree size",
    response_model=CheckpointView,
    responses=problem_responses(Unauthenticated, PolicyDenied, CheckpointNotFound),
)
async def checkpoint_of_size(size: Annotated[int, Path(ge=0, le=2**62)], _: Reader, log: Log) -> CheckpointView:
    try:
        return await log.checkpoint(size)
    except LookupError as error:
        raise CheckpointNotFound(str(error)) from error


@router.post(
    "/checkpoint",
    summary="Sign a checkpoint of the current tree now (oversight)",
    description="Checkpoints are also published at a steady cadence; this publishes one on demand. Oversight only: "
    "the auditor role changes nothing (SG-OVERSIGHT-1), and reads the latest checkpoint instead.",
    response_model=CheckpointView,
    responses=ACCESS,
)
async def publish_checkpoint(_: Overseer, log: Log) -> CheckpointView:
    return await log.publish_checkpoint()


@router.get(
    "/entries",
    summary="Search the audit log",
    description="Newest first, cursor-paged. Filters combine with AND.",
    response_model=EntryPage,
    responses=ACCESS,
)
async def search_entries(  # noqa: PLR0917 (FastAPI passes query parameters by keyword)
    _: Reader,
    log: Log,
    sub: ShortText = None,
    actor: ShortText = None,
    rule: ShortText = None,
    action: Annotated[str | None, Query(min_length=1, max_length=256, pattern=r"^[^\x00-\x1f\x7f]+$")] = None,
    since: Instant | None = None,
    until: Instant | None = None,
    # 18 digits: every cursor the log hands out, and within a 64-bit integer (a longer one was a 500 on SQLite).
    cursor: Annotated[str | None, Query(max_length=18, pattern=r"^[0-9]+$")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> EntryPage:
    where = SearchFilter(sub=sub, actor=actor, action=action, rule=rule, since=since, until=until)
    items = await log.search(where, before=int(cursor) if cursor else None, limit=limit + 1)
    more = len(items) > limit
    items = items[:limit]
    return EntryPage(items=items, next_cursor=str(items[-1].index) if more else None)


@router.get(
    "/entries/{event_id}",
    summary="One audit entry",
    response_model=AuditEntry,
    responses=problem_responses(Unauthenticated, PolicyDenied, AuditEntryNotFound),
)
async def get_entry(event_id: Annotated[str, Path(max_length=64)], _: Reader, log: Log) -> AuditEntry:
    entry = await log.get(event_id=event_id)
    if entry is None:
        raise AuditEntryNotFound(f"No audit entry {event_id[:64]}.")
    return entry


@router.get(
    "/proofs/inclusion",
    summary="Inclusion proof of one entry in a tree size",
    response_model=InclusionProofView,
    responses=problem_responses(Unauthenticated, PolicyDenied, ProofUnavailable),
)
async def inclusion_proof(
    _: Reader,
    log: Log,
    index: Annotated[int, Query(ge=0, le=2**62)],
    size: Annotated[int | None, Query(ge=1, le=2**62, description="Default: the latest checkpoint's size.")] = None,
) -> InclusionProofView:
    size = size or (await log.checkpoint()).size
    try:
        return await log.inclusion(index, size)
    except (ValueError, MissingNode) as error:
        # The caller's numbers are not repeated: a 12-digit one can read as a UIN, which no answer carries.
        raise ProofUnavailable(
            "No inclusion proof of that entry in a tree of that size: the index must be below the size, and the "
            "size at most the log's."
        ) from error


@router.get(
    "/proofs/consistency",
    summary="Consistency proof between two tree sizes",
    response_model=ConsistencyProofView,
    responses=problem_responses(Unauthenticated, PolicyDenied, ProofUnavailable),
)
async def consistency_proof(
    _: Reader,
    log: Log,
    old: Annotated[int, Query(ge=0, le=2**62)],
    new: Annotated[int, Query(ge=0, le=2**62)],
) -> ConsistencyProofView:
    head = await log.head()
    if new > head.size:
        raise ProofUnavailable(f"The tree has {head.size} entries: `new` may be at most that.")
    try:
        return await log.consistency(old, new)
    except (ValueError, MissingNode) as error:
        raise ProofUnavailable("No consistency proof between those sizes: `old` must be at most `new`.") from error


@router.get(
    "/export",
    summary="Export a range of the log with its checkpoints and proofs (a file)",
    description="JSON lines; check it offline with `dpi-sandbox audit verify FILE` and the log's published key.",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/x-ndjson": {}}}, **ACCESS},
)
async def export(
    _: Reader,
    log: Log,
    start: Annotated[int, Query(ge=0, le=2**62)] = 0,
    end: Annotated[int | None, Query(ge=0, le=2**62, description="Default: the latest checkpoint.")] = None,
) -> StreamingResponse:
    head = await log.head()
    if end is not None and (end > head.size or start > end):
        raise InvalidInput(f"The range [{start}, {end}) is not within the log's {head.size} entries.")
    if end is None and start > head.size:
        raise InvalidInput(f"The log has {head.size} entries.")
    filename = f"audit-export-{start}-{end if end is not None else 'latest'}.jsonl"
    return StreamingResponse(
        export_lines(log, start, end),
        media_type="application/x-ndjson",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/verify",
    summary="Recompute the whole log now and check it against its signed checkpoints",
    description="The same check `dpi-sandbox audit verify` runs offline, run here on a fresh export.",
    response_model=VerificationView,
    responses=ACCESS,
)
async def verify(_: Reader, log: Log) -> VerificationView:
    lines = b"".join([chunk async for chunk in export_lines(log)]).splitlines(keepends=True)
    witnesses = [log.witness.signer.verifier] if log.witness is not None else []
    report = verify_export(lines, log.log_key, witnesses)
    return VerificationView(
        ok=report.ok,
        entries=report.entries,
        checkpoints=report.checkpoints,
        cosignatures=report.cosignatures,
        first_bad_position=report.first_bad_position,
        problems=[str(p) for p in report.problems],
    )


@router.get(
    "/witness/refusals",
    summary="Checkpoints a witness refused (history rewritten, rollback, bad signature)",
    response_model=list[WitnessRefusal],
    responses=ACCESS,
)
async def witness_refusals(_: Reader, log: Log) -> list[WitnessRefusal]:
    return [WitnessRefusal(**{**row, "refused_at": row["refused_at"].isoformat()}) for row in await log.refusals()]


@router.post(
    "/witness/verdicts",
    status_code=204,
    summary="A witness run by oversight reports its cosignature or its refusal",
    description="What `dpi-sandbox audit witness` sends. It adds a cosignature or a visible refusal; it changes no "
    "stored event.",
    responses=problem_responses(Unauthenticated, PolicyDenied),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": CosignatureSubmission.model_json_schema()}},
        }
    },
)
async def witness_verdict(request: Request, _: Overseer, log: Log) -> None:
    # The body is read here, after the caller is authenticated: a stranger learns nothing about its shape.
    try:
        body = CosignatureSubmission.model_validate_json(await request.body())
    except ValidationError as error:
        issues = [{"loc": ["body", *e["loc"]], "msg": e["msg"], "type": e["type"]} for e in error.errors()]
        raise InvalidInput("The witness verdict is not valid.", errors=issues) from error
    if (body.cosignature is None) == (body.refusal is None):
        raise InvalidInput("Send either a cosignature or a refusal.")
    if body.cosignature is not None and not _cosignature_line(body.cosignature, body.witness):
        raise InvalidInput("The cosignature is not a signature line of this witness.")
    await log.record_verdict(body.witness, body.size, body.note, cosignature=body.cosignature, refusal=body.refusal)


def _cosignature_line(line: str, witness: str) -> bool:
    prefix = f"\u2014 {witness} "
    if not line.startswith(prefix) or not line.endswith("\n") or line.count("\n") != 1:
        return False
    try:
        return len(base64.b64decode(line[len(prefix) : -1], validate=True)) == 76
    except ValueError:
        return False


async def refuse_change(path: str, request: Request) -> None:
    allowed = "GET, POST" if path in ("checkpoint", "witness/verdicts") else "GET"
    raise AppendOnly(
        f"{request.method} /audit/{path[:100]}: stored audit entries are never updated or deleted.",
        headers={"Allow": allowed},
    )


class _AnyPath(Convertor[str]):
    """Starlette's `path`, line feeds too (its `.*` stops at one, and such a path got the router's 404)."""

    regex = "(?s:.*)"

    def convert(self, value: str) -> str:
        return value

    def to_string(self, value: str) -> str:
        return value


register_url_convertor("audit_any_path", _AnyPath())

for _method in ("PUT", "PATCH", "DELETE"):  # one operation id per method (OpenAPI wants them unique)
    router.add_api_route(
        "/{path:audit_any_path}",
        refuse_change,
        methods=[_method],
        operation_id=f"refuse_audit_{_method.lower()}",
        summary="Refused: nothing in the audit log can be changed or deleted",
        description="Every write method under /audit answers 405 (SG-AUDIT-1); the database refuses UPDATE and DELETE.",
        responses={405: AppendOnly.openapi()},
    )
