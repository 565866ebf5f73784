"""The payments service's named dependencies: its runtime and the role gates of each kind of caller."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common.assertion import Caller
from services.common.auth import require_roles
from services.common.clock import Clock
from services.common.groupcommit import GroupCommit
from services.common.keys import SigningKey
from services.common.outbox import Outbox
from services.common.problems import PolicyDenied
from services.payments.config import PaymentsSettings
from services.payments.transfers.simulator import SimulatedPayeeFsp


@dataclass(frozen=True)
class Runtime:
    """What the domain services need besides the session and the caller."""

    clock: Clock
    engine: AsyncEngine  # for the one-statement reads that need no session (the mapper's resolve)
    outbox: Outbox
    settings: PaymentsSettings
    signing_key: SigningKey
    payee_fsps: SimulatedPayeeFsp  # SIMULATED: the payee FSPs' side of the ILP condition
    resolves: GroupCommit[tuple[str, str], Any]  # the mapper's resolves, read in groups (mapper.repository)


async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.payments
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
# The scheme operator: sets up participants and accounts, funds, runs settlement.
OperatorDep = Annotated[Caller, Depends(require_roles("payments_operator"))]
# A participant FSP (its client_id is the participant's client_id) or the operator.
FspDep = Annotated[Caller, Depends(require_roles("fsp", "payments_operator"))]
# A G2P programme (a ministry's payment unit) posting disbursement batches.
ProgrammeDep = Annotated[Caller, Depends(require_roles("programme"))]
# Who may resolve a person reference to a payment address: FSPs (party lookup), programmes, the operator.
RESOLVER_ROLES = ("fsp", "programme", "payments_operator")
ResolverDep = Annotated[Caller, Depends(require_roles(*RESOLVER_ROLES))]
ReaderDep = Annotated[Caller, Depends(require_roles("payments_operator", "auditor"))]
# Anyone who may read an account: what each sees is decided by the ledger (their own accounts only).
AccountReaderDep = Annotated[Caller, Depends(require_roles("fsp", "payments_operator", "auditor", "subject"))]
# A batch is read by the programme that sent it, the operator and auditors.
BatchReaderDep = Annotated[Caller, Depends(require_roles("programme", "payments_operator", "auditor"))]
# Signed records: the operator, auditors, FSPs and programmes (verifiers need them); disputes: also the person.
RecordReaderDep = Annotated[Caller, Depends(require_roles("payments_operator", "auditor", "fsp", "programme"))]
DisputantDep = Annotated[Caller, Depends(require_roles("subject", "fsp", "programme", "payments_operator", "auditor"))]
SubjectDep = Annotated[Caller, Depends(require_roles("subject"))]


def subject_sub(caller: Caller) -> str:
    """The signed-in person a subject route acts for (the `sub` in the gateway's assertion)."""
    if not caller.subject_ref:
        raise PolicyDenied("SG-SEC-1", "This route acts for a signed-in person; the assertion names none.")
    return caller.subject_ref
