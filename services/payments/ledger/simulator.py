"""The SIMULATED payment network: a central settlement bank, two banks and a mobile-money operator.

No real bank's core system runs here; each FSP is a set of ledger accounts the sandbox keeps for it. Seeding is
idempotent (rows are inserted unless present), so every process of a multi-process sandbox may run it at start-up.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import insert_unless_conflict, table_of
from services.payments.ledger.models import Account, AccountKind, AccountStatus, Participant, ParticipantKind
from services.payments.ledger.service import SETTLEMENT_BANK, account_id_for

SIMULATED_PARTICIPANTS = (
    (SETTLEMENT_BANK, "Central Bank of Sandbox (settlement bank, SIMULATED)", ParticipantKind.settlement_bank),
    ("bank-a", "Alpha Bank (SIMULATED)", ParticipantKind.bank),
    ("bank-b", "Beta Bank (SIMULATED)", ParticipantKind.bank),
    ("momo", "Sandbox Mobile Money (SIMULATED)", ParticipantKind.mobile_money),
)
FSPS = tuple(pid for pid, _, kind in SIMULATED_PARTICIPANTS if kind is not ParticipantKind.settlement_bank)


def network_accounts(currency: str) -> list[tuple[str, str, AccountKind, int | None]]:
    """(account id, participant, kind, debit limit) of the network's own accounts in `currency`."""
    rows: list[tuple[str, str, AccountKind, int | None]] = [
        (account_id_for(SETTLEMENT_BANK, AccountKind.issuance, currency), SETTLEMENT_BANK, AccountKind.issuance, None),
        (account_id_for(SETTLEMENT_BANK, AccountKind.clearing, currency), SETTLEMENT_BANK, AccountKind.clearing, 0),
    ]
    for fsp in FSPS:
        rows.append((account_id_for(fsp, AccountKind.settlement, currency), fsp, AccountKind.settlement, 0))
        rows.append((account_id_for(fsp, AccountKind.fees, currency), fsp, AccountKind.fees, 0))
    return rows


async def seed_network(session: AsyncSession, currency: str, now: datetime) -> int:
    """Create what is missing of the simulated network; returns how many rows were created."""
    created = 0
    for pid, name, participant_kind in SIMULATED_PARTICIPANTS:
        row = {"id": pid, "name": name, "kind": participant_kind.value, "client_id": f"sim-{pid}", "created_at": now}
        created += await insert_unless_conflict(session, table_of(Participant), row)
    for account_id, pid, kind, limit in network_accounts(currency):
        values: dict[str, object] = {
            "id": account_id, "participant_id": pid, "kind": kind.value, "address": f"{kind.value}-{currency}",
            "currency": currency, "owner_ref": None, "status": AccountStatus.active.value, "balance": 0,
            "pending_debits": 0, "debit_limit": limit, "created_at": now,
        }  # fmt: skip
        created += await insert_unless_conflict(session, table_of(Account), values)
    return created
