"""The hot path of a transfer on PostgreSQL: prepare and fulfil each as a few prepared statements in one transaction.

A complete transfer is two authenticated requests, each with its Idempotency-Key; the general path (service.py)
spends most of a request's CPU in SQLAlchemy's per-statement work and the ORM, not in the database. Here each step
runs on the driver's connection (services.common.db.prepared_transaction): one data-modifying CTE does the step's
conditional updates and inserts (prepare: the reservation, the transfer, its pending posting; fulfil: the state
change, the posting), the account rows follow in account-id order (fulfil), then the event and the signed records
in one statement and the stored answer of the Idempotency-Key (`finish`), and the transaction commits.

The same limits hold, decided by the same conditional statements: the reservation's UPDATE keeps the payer within
its limit whatever the concurrency; a transfer id is inserted once; a fulfil commits only a reserved, unexpired
transfer whose condition its fulfilment meets. Anything the statements do not cover (a quote or fee, the operator
acting, an account missing, closed or short of funds, a replay, an expired or finished transfer) rolls the
transaction back, and the general path runs and answers as it always has, with the refusal it names. The answers
are the general path's, byte for byte: the same wire shapes, signed records and events.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import structlog
from fastapi.responses import JSONResponse, Response

from services.common.assertion import Caller
from services.common.db import PreparedTransaction, prepared_transaction
from services.common.idempotency import Finish
from services.common.ids import new_id
from services.payments.deps import Runtime
from services.payments.ledger.repository import commit_reservation
from services.payments.money import to_text
from services.payments.records.models import Step
from services.payments.records.service import record as record_service
from services.payments.transfers.models import Transfer, TransferState
from services.payments.transfers.repository import EVENT_AND_RECORDS, FULFIL, PREPARE
from services.payments.transfers.schemas import TransferFulfil, TransferPrepare
from services.payments.transfers.service import body_hash, event_of, step_records, transfer_read
from services.payments.transfers.simulator import condition_of

log = structlog.get_logger(__name__)


def _applies(rt: Runtime, caller: Caller) -> bool:
    return rt.engine.dialect.name == "postgresql" and not caller.has_role("payments_operator")


async def prepare(caller: Caller, body: TransferPrepare, *, rt: Runtime, finish: Finish) -> Response | None:
    """Reserve the funds and record the transfer (201), or None when the general path must answer."""
    if body.quote_id is not None or not _applies(rt, caller):
        return None
    currency = body.amount.currency
    amount = body.amount.minor
    now = rt.clock.now()
    expires_at = now + timedelta(seconds=rt.settings.transfer_timeout_seconds)
    if body.expiration is not None:
        expires_at = min(expires_at, body.expiration)
    transfer = Transfer(
        id=body.transfer_id, quote_id=None, payer_fsp=body.payer.fsp_id, payee_fsp=body.payee.fsp_id,
        payer_address=body.payer.address, payee_address=body.payee.address, amount=amount, fee=0, currency=currency,
        condition=body.condition, fulfilment=None, state=TransferState.reserved.value, abort_reason=None,
        request_hash=body_hash(body), created_by=caller.client_id, created_at=now, expires_at=expires_at,
        completed_at=None, window_id=None,
    )  # fmt: skip
    response = JSONResponse(transfer_read(transfer).model_dump(mode="json"), status_code=201)
    reserved = {"postings": [body.transfer_id], "reserved": to_text(amount, currency)}
    steps: list[tuple[Step, dict[str, Any]]] = [
        (Step.initiation, {"initiated_by": caller.client_id}),
        (Step.reservation, reserved),
    ]
    async with prepared_transaction(rt.engine) as transaction:
        done = (await transaction.fetch(PREPARE, {
            "payer_fsp": body.payer.fsp_id, "payer_address": body.payer.address, "payee_fsp": body.payee.fsp_id,
            "payee_address": body.payee.address, "currency": currency, "client_id": caller.client_id,
            "amount": amount, "transfer_id": body.transfer_id, "condition": body.condition,
            "request_hash": transfer.request_hash, "now": now, "expires_at": expires_at,
        }))[0]  # fmt: skip
        if (done.reserved, done.created, done.posted) != (1, 1, 1):
            transaction.rollback_only()
            return None
        await _event_and_records(transaction, transfer, "payments.transfer.reserved", steps, rt=rt)
        await finish(transaction, response)
    return response


async def fulfil(
    caller: Caller, transfer_id: str, body: TransferFulfil, *, rt: Runtime, finish: Finish
) -> Response | None:
    """Commit the transfer (200), or None when the general path must answer."""
    if not _applies(rt, caller):
        return None
    now = rt.clock.now()
    async with prepared_transaction(rt.engine) as transaction:
        rows = await transaction.fetch(FULFIL, {
            "transfer_id": transfer_id, "fulfilment": body.fulfilment, "condition": condition_of(body.fulfilment),
            "client_id": caller.client_id, "now": now,
        })  # fmt: skip
        committed = rows[0] if rows else None
        if (
            committed is None
            or committed.posted != 1
            or not await commit_reservation(
                transaction, committed.payer_account_id, committed.payee_account_id, committed.amount
            )
        ):
            transaction.rollback_only()
            return None
        steps = [(Step.commit, {"postings": [committed.id]})]
        await _event_and_records(transaction, committed, "payments.transfer.committed", steps, rt=rt)
        response = JSONResponse(transfer_read(committed).model_dump(mode="json"), status_code=200)
        await finish(transaction, response)
    log.info("payments.transfer.committed", transfer_id=transfer_id)
    return response


async def _event_and_records(
    transaction: PreparedTransaction, transfer: Any, subject: str, steps: list[tuple[Step, dict[str, Any]]],
    *, rt: Runtime,
) -> None:  # fmt: skip
    transfer_id = transfer.id  # a Transfer, or a row with its columns
    rows = record_service.signed_rows(transaction_id=transfer_id, kind="transfer", rt=rt,
                                      steps=step_records(transfer, steps))  # fmt: skip
    recorded = [{"id": row["id"], "step": row["step"], "record": row["record"], "jws": row["jws"]} for row in rows]
    await transaction.fetch(EVENT_AND_RECORDS, {
        "event_id": new_id("evt"), "subject": subject, "payload": event_of(transfer), "now": rt.clock.now(),
        "transfer_id": transfer_id, "steps": recorded,
    })  # fmt: skip
