"""The hot path of a transfer on PostgreSQL: prepare and fulfil each as one autocommitted statement.

A complete transfer is two authenticated requests, each with its Idempotency-Key. The general path (service.py)
claims the key (a statement of its own), works in a transaction of several statements and stores the answer in it:
seven round trips and more a step, each costing CPU on both sides of the socket. Here a prepare is one statement
and a fulfil two (the transfer read, for what its signed record and its answer say, then the write), each on a
connection straight from the pool (services.common.db.fetch_prepared_pooled), with one synchronous commit per step:
one data-modifying CTE does the step's conditional updates and inserts (prepare: the reservation, the transfer, its
pending posting; fulfil: the state change, the posting, the payer's and the payee's balances), the event, the signed
records, and the key's record holding the answer (services.common.idempotency.answer_insert), so that the work and
its answer commit together or not at all.

The same limits hold, decided by the same conditional statements: the reservation's UPDATE keeps the payer within
its limit whatever the concurrency; a transfer id, a posting id and a key are each inserted once (no ON CONFLICT: a
second one, or a concurrent one once the first commits, fails the statement with a unique violation, and nothing of
it commits); a fulfil commits only a reserved, unexpired transfer whose condition its fulfilment meets, with its
rows locked first. Anything the statements do not cover (a quote or fee, the operator acting, an account missing,
closed or short of funds, a replay, an expired or finished transfer, a taken id or key) commits nothing, and the
general path runs and answers as it always has, with the refusal it names or the stored answer. The answers are the
general path's, byte for byte: the same wire shapes, signed records, events and stored answers.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import structlog
from fastapi.responses import JSONResponse, Response
from sqlalchemy.exc import DBAPIError

from services.common.assertion import Caller
from services.common.db import fetch_prepared_pooled, is_unique_violation
from services.common.idempotency import Answer
from services.common.ids import new_id
from services.payments.deps import Runtime
from services.payments.money import to_text
from services.payments.records.models import Step
from services.payments.records.service import record as record_service
from services.payments.transfers.models import Transfer, TransferState
from services.payments.transfers.repository import FULFIL, PREPARE, TRANSFER
from services.payments.transfers.schemas import TransferFulfil, TransferPrepare
from services.payments.transfers.service import body_hash, event_of, step_records, transfer_read
from services.payments.transfers.simulator import condition_of

log = structlog.get_logger(__name__)


def _applies(rt: Runtime, caller: Caller) -> bool:
    return rt.engine.dialect.name == "postgresql" and not caller.has_role("payments_operator")


async def prepare(caller: Caller, body: TransferPrepare, *, rt: Runtime, answer: Answer) -> Response | None:
    """Reserve the funds and record the transfer (201), or None (nothing written) when the general path must."""
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
    values = {
        "payer_fsp": body.payer.fsp_id, "payer_address": body.payer.address, "payee_fsp": body.payee.fsp_id,
        "payee_address": body.payee.address, "currency": currency, "client_id": caller.client_id, "amount": amount,
        "transfer_id": body.transfer_id, "condition": body.condition, "request_hash": transfer.request_hash,
        "expires_at": expires_at,
        **_event_and_records(transfer, "payments.transfer.reserved", steps, now, rt=rt), **answer(response),
    }  # fmt: skip
    done = await _run(PREPARE, values, rt=rt)
    return response if done else None


async def fulfil(
    caller: Caller, transfer_id: str, body: TransferFulfil, *, rt: Runtime, answer: Answer
) -> Response | None:
    """Commit the transfer (200), or None (nothing written) when the general path must."""
    if not _applies(rt, caller):
        return None
    now = rt.clock.now()
    condition = condition_of(body.fulfilment)
    found = await fetch_prepared_pooled(rt.engine, TRANSFER, {"transfer_id": transfer_id})
    current = found[0] if found else None
    if (
        current is None
        or current.state != TransferState.reserved.value
        or current.expires_at <= now
        or current.condition != condition
        or current.fee != 0
    ):
        return None  # the statement would find nothing to do: the general path explains, or expires it
    committed = current._replace(state=TransferState.committed.value, fulfilment=body.fulfilment, completed_at=now)
    response = JSONResponse(transfer_read(committed).model_dump(mode="json"), status_code=200)
    steps: list[tuple[Step, dict[str, Any]]] = [(Step.commit, {"postings": [transfer_id]})]
    values = {
        "transfer_id": transfer_id, "fulfilment": body.fulfilment, "condition": condition,
        "client_id": caller.client_id,
        **_event_and_records(committed, "payments.transfer.committed", steps, now, rt=rt), **answer(response),
    }  # fmt: skip
    if not await _run(FULFIL, values, rt=rt):
        return None
    log.info("payments.transfer.committed", transfer_id=transfer_id)
    return response


async def _run(statement: Any, values: dict[str, Any], *, rt: Runtime) -> bool:
    """Run a step's statement; whether it did the step (and stored its answer). A unique violation (an id or a key
    already taken) undid the whole statement: False, as when its conditions did not hold."""
    try:
        done = (await fetch_prepared_pooled(rt.engine, statement, values))[0]
    except DBAPIError as error:
        if is_unique_violation(error):
            return False
        raise
    return bool(done.done)


def _event_and_records(
    transfer: Any, subject: str, steps: list[tuple[Step, dict[str, Any]]], now: datetime, *, rt: Runtime
) -> dict[str, Any]:
    """The parameters of the step's event and signed records (`transfer`: a Transfer, or a row with its columns)."""
    rows = record_service.signed_rows(transaction_id=transfer.id, kind="transfer", rt=rt,
                                      steps=step_records(transfer, steps))  # fmt: skip
    recorded = [{"id": row["id"], "step": row["step"], "record": row["record"], "jws": row["jws"]} for row in rows]
    return {"event_id": new_id("evt"), "subject": subject, "payload": event_of(transfer), "now": now,
            "steps": recorded}  # fmt: skip
