"""Bulk G2P disbursement: intake (JSON or pain.001), the chunked set-based job, status, items and pain.002."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import jws
from services.common.assertion import Caller
from services.common.ids import new_id
from services.common.problems import PolicyDenied
from services.payments.bulk.errors import BatchNotFound, BatchTooLarge, DuplicateBatch, InvalidBatch
from services.payments.bulk.iso20022 import Pain001, pain002, parse_pain001
from services.payments.bulk.models import Batch, BatchState, FailureReason, ItemStatus
from services.payments.bulk.repository import DIGESTED, BulkRepository
from services.payments.bulk.schemas import BatchCreate, BatchRead, ItemPage, ItemRead
from services.payments.deps import Runtime
from services.payments.ledger.errors import AccountNotFound, CurrencyMismatch
from services.payments.ledger.models import AccountKind
from services.payments.ledger.repository import LedgerRepository
from services.payments.money import InvalidAmount, to_minor, to_text
from services.payments.records.models import Step
from services.payments.records.service import record as record_service

log = structlog.get_logger(__name__)


class CreditRefused(Exception):
    """A payee account stopped accepting credits while its chunk was being paid: the chunk is rolled back and
    runs again (its items then fail as account_closed)."""


class BulkService:
    async def submit(self, session: AsyncSession, caller: Caller, body: BatchCreate, *, rt: Runtime) -> BatchRead:
        items = [(item.end_to_end_id or str(n + 1), item.person_ref, item.amount) for n, item in enumerate(body.items)]
        return await self._submit(session, caller, message_id=body.message_id, debtor=(body.debtor.fsp_id,
                                  body.debtor.address), currency=body.currency, control_sum=body.control_sum,
                                  items=items, fmt="json", rt=rt)  # fmt: skip

    async def submit_pain001(self, session: AsyncSession, caller: Caller, data: bytes, *, rt: Runtime) -> BatchRead:
        parsed: Pain001 = parse_pain001(data)
        fmt = "pain.001.001.09" if parsed.namespace.endswith("09") else "pain.001.001.03"
        return await self._submit(session, caller, message_id=parsed.message_id, debtor=(parsed.debtor_fsp,
                                  parsed.debtor_address), currency=parsed.currency, control_sum=parsed.control_sum,
                                  items=parsed.items, fmt=fmt, rt=rt)  # fmt: skip

    async def _submit(
        self, session: AsyncSession, caller: Caller, *, message_id: str, debtor: tuple[str, str], currency: str,
        control_sum: str | None, items: list[tuple[str, str, str]], fmt: str, rt: Runtime,
    ) -> BatchRead:  # fmt: skip
        if len(items) > rt.settings.bulk_max_items:
            raise BatchTooLarge(f"A batch may hold at most {rt.settings.bulk_max_items} items.")
        source = await LedgerRepository.from_session(session).account_by_address(*debtor)
        if source is None:
            raise AccountNotFound(f"No account {debtor[1]} at {debtor[0]}.")
        if source.kind != AccountKind.programme.value or source.owner_ref != caller.client_id:
            raise PolicyDenied("SG-SEC-1", "A programme pays only from its own programme account.")
        if source.currency != currency:
            raise CurrencyMismatch(f"The programme account holds {source.currency}, not {currency}.")
        batch_id = new_id("bat")
        rows, total = _rows(batch_id, items, currency)
        if control_sum is not None and to_minor(control_sum, currency) != total:
            raise InvalidBatch(f"The control sum {control_sum} is not the items' total {to_text(total, currency)}.")
        now = rt.clock.now()
        repository = BulkRepository.from_session(session)
        values: dict[str, Any] = {
            "id": batch_id, "programme": caller.client_id, "message_id": message_id, "source_account_id": source.id,
            "currency": currency, "format": fmt, "state": BatchState.received.value, "item_count": len(rows),
            "control_sum": total, "processed_through": 0, "paid_count": 0, "paid_sum": 0, "failed_count": 0,
            "created_at": now, "started_at": None, "completed_at": None,
        }  # fmt: skip
        if not await repository.insert_batch(values):
            existing = await repository.by_message_id(caller.client_id, message_id)
            raise DuplicateBatch(f"Message {message_id} was submitted before.",
                                 batch_id=existing.id if existing else None)  # fmt: skip
        await repository.insert_items(rows)
        facts = {
            "programme": caller.client_id, "message_id": message_id, "format": fmt, "source_account_id": source.id,
            "currency": currency, "item_count": len(rows), "control_sum": to_text(total, currency),
            "items_sha256": items_digest([{k: row[k] for k in DIGESTED} for row in rows]),
        }  # fmt: skip
        await record_service.sign(
            session, transaction_id=batch_id, kind="disbursement", step=Step.initiation, facts=facts, rt=rt
        )
        await rt.outbox.add(session, "payments.batch.received",
                            {"batch_id": batch_id, "programme": caller.client_id, "items": len(rows)})  # fmt: skip
        log.info("payments.batch.received", batch_id=batch_id, items=len(rows), format=fmt)
        return batch_read(Batch(**values))

    async def get(self, session: AsyncSession, caller: Caller, batch_id: str) -> BatchRead:
        return batch_read(await self._visible(session, caller, batch_id))

    async def items(
        self, session: AsyncSession, caller: Caller, batch_id: str, *, after: int, limit: int,
        status: ItemStatus | None,
    ) -> ItemPage:  # fmt: skip
        batch = await self._visible(session, caller, batch_id)
        rows = await BulkRepository.from_session(session).items_page(batch_id, after=after, limit=limit, status=status)
        page = [
            ItemRead(
                seq=row.seq,
                end_to_end_id=row.end_to_end_id,
                person_ref=row.person_ref,
                amount=to_text(row.amount, batch.currency),
                status=ItemStatus(row.status),
                reason=FailureReason(row.reason) if row.reason else None,
                account_id=row.account_id,
                completed_at=row.completed_at,
            )
            for row in rows
        ]
        return ItemPage(items=page, next_after=page[-1].seq if len(page) == limit else None)

    async def status_report(self, session: AsyncSession, caller: Caller, batch_id: str, *, rt: Runtime) -> bytes:
        batch = await self._visible(session, caller, batch_id)
        rows = await BulkRepository.from_session(session).all_items(batch_id)
        return pain002(
            report_id=f"{batch.id[-30:]}", original_message_id=batch.message_id,
            original_format=batch.format if batch.format.startswith("pain") else "pain.001.001.09",
            item_count=batch.item_count, control_sum=Decimal(to_text(batch.control_sum, batch.currency)),
            items=rows, now=rt.clock.now(), complete=batch.state == BatchState.completed.value,
        )  # fmt: skip

    async def run_chunk(self, session: AsyncSession, batch_id: str, *, rt: Runtime) -> bool:
        """Resolve and pay the next chunk of a batch in the caller's transaction; True if more remains.

        The batch row is locked first, so two workers (processes) never run chunks of one batch at once; the cursor
        moves in the same transaction as the payments, so a crash loses the chunk in flight entirely and the next
        run does it again from the same place: nobody is paid twice, nobody is skipped.
        """
        repository = BulkRepository.from_session(session)
        batch = await repository.get(batch_id, lock=True)
        if batch is None or batch.state == BatchState.completed.value:
            return False
        now = rt.clock.now()
        low = batch.processed_through
        high = min(low + (rt.settings.bulk_chunk_size or repository.default_chunk_size()), batch.item_count)
        p = {"b": batch.id, "lo": low, "hi": high, "now": now, "cur": batch.currency, "src": batch.source_account_id}
        await repository.plan_for_chunk()
        paid = await repository.mark_payable(p)
        failed = await repository.fail_rest(p) if paid < high - low else 0
        paid_sum = 0
        if paid:
            paid, paid_sum, payees = await repository.paid_total(p)
            if not await LedgerRepository.from_session(session).debit(batch.source_account_id, paid_sum):
                failed += await repository.unfund(p, FailureReason.insufficient_funds.value)
                paid = paid_sum = 0
            elif not await repository.post_and_credit(p, payees):
                raise CreditRefused(batch.id)
        done = high >= batch.item_count
        await repository.advance(batch.id, {
            "processed_through": high, "paid_count": batch.paid_count + paid, "paid_sum": batch.paid_sum + paid_sum,
            "failed_count": batch.failed_count + failed,
            "state": (BatchState.completed if done else BatchState.running).value,
            "started_at": batch.started_at or now, "completed_at": now if done else None,
        }, now)  # fmt: skip
        digest = await repository.chunk_digest(p)
        if digest is None:
            digest = items_digest([dict(zip(DIGESTED, row, strict=True)) for row in await repository.chunk_items(p)])
        facts = {
            "first_seq": low, "last_seq": high - 1, "paid": paid, "failed": failed,
            "paid_sum": to_text(paid_sum, batch.currency), "currency": batch.currency,
            "source_account_id": batch.source_account_id, "items_sha256": digest,
        }  # fmt: skip
        await record_service.sign(
            session, transaction_id=batch.id, kind="disbursement", step=Step.commit, facts=facts, rt=rt
        )
        if failed:
            # The payees whose credit failed are told, with the reason, so they can fix their link and be paid.
            failures = [
                {"seq": r.seq, "person_ref": r.person_ref, "reason": r.reason} for r in await repository.failed_in(p)
            ]
            await rt.outbox.add(session, "payments.disbursement.failed",
                                {"batch_id": batch.id, "programme": batch.programme, "items": failures})  # fmt: skip
        if paid:
            await rt.outbox.add(session, "payments.disbursement.paid",
                                {"batch_id": batch.id, "programme": batch.programme, "first_seq": low,
                                 "last_seq": high - 1, "paid": paid, "amount": paid_sum})  # fmt: skip
        if done:
            await rt.outbox.add(
                session, "payments.batch.completed", {"batch_id": batch.id, "programme": batch.programme}
            )
        return not done

    async def _visible(self, session: AsyncSession, caller: Caller, batch_id: str) -> Batch:
        batch = await BulkRepository.from_session(session).get(batch_id)
        if batch is None or not (
            caller.has_role("payments_operator", "auditor") or batch.programme == caller.client_id
        ):
            raise BatchNotFound(f"No batch {batch_id}.")
        return batch


def _rows(batch_id: str, items: list[tuple[str, str, str]], currency: str) -> tuple[list[dict[str, Any]], int]:
    """Item rows, refusing duplicate payments (GovStack: a batch with duplicates is rejected) and bad amounts."""
    seen_ids: set[str] = set()
    seen_people: set[str] = set()
    rows: list[dict[str, Any]] = []
    total = 0
    for seq, (end_to_end_id, person_ref, amount) in enumerate(items):
        if end_to_end_id in seen_ids:
            raise InvalidBatch(f"Item {seq + 1}: end-to-end id {end_to_end_id} appears twice.")
        if person_ref in seen_people:
            raise InvalidBatch(f"Item {seq + 1}: the beneficiary appears twice in the batch (a duplicate payment).")
        seen_ids.add(end_to_end_id)
        seen_people.add(person_ref)
        try:
            minor = to_minor(amount, currency)
        except InvalidAmount as error:
            raise InvalidAmount(f"Item {seq + 1}: {error.detail}") from None
        total += minor
        rows.append({"batch_id": batch_id, "seq": seq, "end_to_end_id": end_to_end_id, "person_ref": person_ref,
                     "amount": minor, "status": ItemStatus.pending.value, "reason": None, "account_id": None,
                     "completed_at": None})  # fmt: skip
    return rows, total


def items_digest(items: list[dict[str, Any]]) -> str:
    """SHA-256 of the items' RFC 8785 canonical JSON (the kit's `jws.canonical_json`), each item with the keys of
    `DIGESTED` (seq, end-to-end id, person, amount and, once paid, status, reason and account): a verifier recomputes
    it from the items endpoint with any JCS implementation and compares it with the signed record."""
    return hashlib.sha256(jws.canonical_json(items)).hexdigest()


def batch_read(batch: Batch) -> BatchRead:
    done = batch.paid_count + batch.failed_count
    return BatchRead(
        batch_id=batch.id, message_id=batch.message_id, format=batch.format, state=BatchState(batch.state),
        currency=batch.currency, item_count=batch.item_count, control_sum=to_text(batch.control_sum, batch.currency),
        paid_count=batch.paid_count, paid_sum=to_text(batch.paid_sum, batch.currency), failed_count=batch.failed_count,
        pending_count=batch.item_count - done, progress=round(done / batch.item_count, 4) if batch.item_count else 1.0,
        created_at=batch.created_at, started_at=batch.started_at, completed_at=batch.completed_at,
    )  # fmt: skip


bulk = BulkService()
