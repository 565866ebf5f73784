"""What a person sees at the gateway about themselves: who accessed their data (SG-ACCESS-1), with a proof for every
entry that it is in the one append-only log, and a count of entries a court has deferred (SG-ACCESS-2)."""

from __future__ import annotations

from fastapi import APIRouter, Request

from gateway.audit.schemas import SubjectAccessLog
from gateway.auth.deps import CurrentCaller
from services.common.problems import PolicyDenied, Unauthenticated, problem_responses

router = APIRouter(prefix="/me", tags=["me"])


@router.get(
    "/access-log",
    summary="Who accessed my data: when, which organisation, which fields, why, on what legal basis",
    description="SG-ACCESS-1: every decision the gateway took about me, newest first, each entry with its RFC 6962 "
    "inclusion proof against the signed checkpoint returned beside it, so I (or an app I trust) can check that it "
    "is in the same append-only log the auditors see. Entries a court order defers (SG-ACCESS-2) are in the log but "
    "not shown until their disclose-after time; `withheld` says how many there are.",
    response_model=SubjectAccessLog,
    responses=problem_responses(Unauthenticated, PolicyDenied),
)
async def my_access_log(request: Request, caller: CurrentCaller) -> SubjectAccessLog:
    if caller.subject_ref is None:
        raise PolicyDenied("SG-SEC-1", "Only a signed-in person reads their own access log.")
    view: SubjectAccessLog = await request.app.state.audit.entries_for_subject(
        caller.subject_ref, request.app.state.clock.now()
    )
    return view
