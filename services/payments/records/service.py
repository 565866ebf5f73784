"""Signing every step of a payment (SG-AUDIT-2) and filing disputes against the signed record (SG-GRIEV-4)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import jws
from services.common.assertion import Caller
from services.common.db import table_of
from services.common.ids import new_id
from services.payments.deps import Runtime
from services.payments.records.errors import DisputeNotFound, TransactionNotFound
from services.payments.records.models import Dispute, SignedRecord, Step
from services.payments.records.schemas import (
    RECORD_TYPE,
    DisputeCreate,
    DisputeRead,
    DisputeReason,
    SignedStep,
    TransactionRecords,
)

_records = table_of(SignedRecord)
_INSERT = _records.insert()


class RecordService:
    async def sign(
        self, session: AsyncSession, *, transaction_id: str, kind: str, step: Step, facts: dict[str, Any], rt: Runtime
    ) -> str:
        """Store `facts` as the signed record of one step; its id. The JWS payload is the canonical record."""
        ids = await self.sign_steps(session, transaction_id=transaction_id, kind=kind, steps=[(step, facts)], rt=rt)
        return ids[0]

    async def sign_steps(
        self, session: AsyncSession, *, transaction_id: str, kind: str, steps: Sequence[tuple[Step, dict[str, Any]]],
        rt: Runtime,
    ) -> list[str]:  # fmt: skip
        """Store the signed records of consecutive steps, in order, in one statement; their ids."""
        rows = self.signed_rows(transaction_id=transaction_id, kind=kind, steps=steps, rt=rt)
        await session.execute(_INSERT, rows)
        return [str(row["id"]) for row in rows]

    def signed_rows(
        self, *, transaction_id: str, kind: str, steps: Sequence[tuple[Step, dict[str, Any]]], rt: Runtime
    ) -> list[dict[str, Any]]:
        """The rows of `signed_records` for consecutive steps, each record signed (for a caller that inserts them
        itself, in a statement of its own)."""
        now = rt.clock.now()
        rows: list[dict[str, Any]] = []
        for step, facts in steps:
            record_id = new_id("rec")
            record = {"record_id": record_id, "transaction_id": transaction_id, "kind": kind, "step": step.value,
                      "at": now.isoformat(), "signer": "payments", **facts}  # fmt: skip
            token = jws.sign_record(rt.signing_key, record, typ=RECORD_TYPE)
            rows.append({"id": record_id, "transaction_id": transaction_id, "kind": kind, "step": step.value,
                         "record": record, "jws": token, "created_at": now})  # fmt: skip
        return rows

    async def of_transaction(self, session: AsyncSession, transaction_id: str) -> TransactionRecords:
        rows = (
            await session.scalars(
                select(SignedRecord)
                .where(SignedRecord.transaction_id == transaction_id)
                .order_by(SignedRecord.created_at, SignedRecord.id)
            )
        ).all()
        if not rows:
            raise TransactionNotFound(f"No signed record of transaction {transaction_id}.")
        return TransactionRecords(transaction_id=transaction_id, steps=[_step(row) for row in rows])

    async def dispute(
        self, session: AsyncSession, caller: Caller, transaction_id: str, body: DisputeCreate, *, rt: Runtime
    ) -> DisputeRead:
        records = await self.of_transaction(session, transaction_id)
        latest = records.steps[-1]
        dispute_id = new_id("dsp")
        dispute = Dispute(id=dispute_id, transaction_id=transaction_id, record_id=latest.record_id,
                          reason=body.reason.value, description=body.description, filed_by=caller.client_id,
                          subject_ref=caller.subject_ref, status="open", created_at=rt.clock.now())  # fmt: skip
        session.add(dispute)
        await session.flush()
        # For the grievance office: the case, and the signed record it is about, which anyone can verify.
        await rt.outbox.add(session, "payments.dispute.filed", {
            "dispute_id": dispute_id, "transaction_id": transaction_id, "record_id": latest.record_id,
            "record_jws": latest.jws, "reason": body.reason.value, "subject_ref": caller.subject_ref,
            "filed_by": caller.client_id, "rule_id": "SG-GRIEV-4",
        })  # fmt: skip
        return _dispute(dispute, latest.jws)

    async def get_dispute(self, session: AsyncSession, caller: Caller, dispute_id: str) -> DisputeRead:
        dispute = await session.get(Dispute, dispute_id)
        overseer = caller.has_role("payments_operator", "auditor")
        if dispute is None or not (overseer or dispute.filed_by == caller.client_id):
            raise DisputeNotFound(f"No dispute {dispute_id}.")
        record = await session.get(SignedRecord, dispute.record_id)
        assert record is not None
        return _dispute(dispute, record.jws)


def _step(row: SignedRecord) -> SignedStep:
    return SignedStep(record_id=row.id, transaction_id=row.transaction_id, kind=row.kind, step=Step(row.step),
                      record=row.record, jws=row.jws, created_at=row.created_at)  # fmt: skip


def _dispute(dispute: Dispute, record_jws: str) -> DisputeRead:
    return DisputeRead(
        dispute_id=dispute.id, transaction_id=dispute.transaction_id, record_id=dispute.record_id,
        record_jws=record_jws, reason=DisputeReason(dispute.reason), status=dispute.status,
        grievance_href=f"/me/grievances?payment_dispute={dispute.id}", created_at=dispute.created_at,
    )  # fmt: skip


record = RecordService()
