"""Party lookup, quotes and two-phase transfers: prepare reserves, fulfil commits, abort or expiry releases.

Idempotency follows FSPIOP §3.2.5: a quote or transfer id seen before is compared by the SHA-256 of its canonical
body; the same body answers the stored resource without moving money again, another body is a conflict. The ledger
postings carry the transfer's id, so even a replay that raced past this check could not post twice.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta
from typing import Any

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import jws
from services.common.assertion import Caller
from services.common.problems import PolicyDenied
from services.payments.deps import Runtime
from services.payments.ledger.errors import AccountClosed, AccountNotFound, CurrencyMismatch
from services.payments.ledger.models import AccountKind, AccountStatus
from services.payments.ledger.repository import LedgerRepository
from services.payments.ledger.service import Leg, account_id_for
from services.payments.ledger.service import ledger as ledger_service
from services.payments.mapper.errors import Unresolvable
from services.payments.mapper.models import RefType
from services.payments.mapper.schemas import PaymentAddress
from services.payments.mapper.service import mapper as mapper_service
from services.payments.money import Money, to_text
from services.payments.records.models import Step
from services.payments.records.service import record as record_service
from services.payments.transfers.errors import (
    CreditFailed,
    DuplicateWithOtherValues,
    InvalidFulfilment,
    PartyNotFound,
    QuoteExpired,
    QuoteMismatch,
    QuoteNotFound,
    SameAccount,
    TransferExpired,
    TransferNotFound,
    TransferNotReserved,
)
from services.payments.transfers.models import AbortReason, Quote, Transfer, TransferState
from services.payments.transfers.repository import TransferRepository
from services.payments.transfers.schemas import (
    Party,
    PartyIdType,
    QuoteRead,
    QuoteRequest,
    TransferAbort,
    TransferFulfil,
    TransferPrepare,
    TransferRead,
)
from services.payments.transfers.simulator import condition_of

log = structlog.get_logger(__name__)


def body_hash(body: Any) -> str:
    """SHA-256 over the RFC 8785 canonical JSON of a request body: what a replay is compared by."""
    return hashlib.sha256(jws.canonical_json(body.model_dump(mode="json"))).hexdigest()


def fee_for(amount: int, rt: Runtime) -> int:
    basis_points = rt.settings.fee_basis_points
    if basis_points == 0:
        return 0
    return max(rt.settings.fee_minimum_minor, -(-amount * basis_points // 10_000))


def legs_of(transfer: Transfer) -> list[str]:
    """The ledger postings of a transfer: the amount, and the payer FSP's fee if there is one."""
    return [transfer.id, f"{transfer.id}:fee"] if transfer.fee else [transfer.id]


class TransferService:
    async def lookup_party(self, session: AsyncSession, id_type: PartyIdType, identifier: str) -> Party:
        if id_type is PartyIdType.MSISDN:
            wallet = await TransferRepository.from_session(session).wallet(identifier)
            if wallet is None:
                raise PartyNotFound("No wallet has this number.")
            return Party(party_id_type=id_type, party_identifier=identifier, fsp_id=wallet.participant_id,
                         address=wallet.address, account_kind=AccountKind(wallet.kind))  # fmt: skip
        ref_type = RefType.sub if id_type is PartyIdType.PERSONAL_ID else RefType.token
        try:
            resolved = await mapper_service.resolve(session, ref_type, identifier)
        except Unresolvable:
            raise PartyNotFound("No payment address is linked to this party.") from None
        return Party(party_id_type=id_type, party_identifier=identifier, fsp_id=resolved.fsp_id,
                     address=resolved.address, account_kind=resolved.address_kind)  # fmt: skip

    async def quote(self, session: AsyncSession, caller: Caller, body: QuoteRequest, *, rt: Runtime) -> QuoteRead:
        payer, payee = await self._parties(session, caller, body.payer, body.payee, body.amount.currency)
        amount = body.amount.minor
        now = rt.clock.now()
        values = {
            "id": body.quote_id, "payer_account_id": payer.id, "payee_account_id": payee.id,
            "payer_fsp": payer.participant_id, "payee_fsp": payee.participant_id, "payer_address": payer.address,
            "payee_address": payee.address, "amount": amount, "fee": fee_for(amount, rt),
            "currency": body.amount.currency,
            "condition": rt.payee_fsps.condition(payee.participant_id, body.quote_id),
            "request_hash": body_hash(body), "created_by": caller.client_id, "created_at": now,
            "expires_at": now + timedelta(seconds=rt.settings.quote_validity_seconds),
        }  # fmt: skip
        repository = TransferRepository.from_session(session)
        if not await repository.insert_quote(values):
            existing = await repository.get_quote(body.quote_id)
            if existing is None or existing.request_hash != values["request_hash"]:
                raise DuplicateWithOtherValues(f"Quote {body.quote_id} exists with other values.")
            return quote_read(existing)
        quote = await repository.get_quote(body.quote_id)
        assert quote is not None
        return quote_read(quote)

    async def get_quote(self, session: AsyncSession, caller: Caller, quote_id: str) -> QuoteRead:
        quote = await TransferRepository.from_session(session).get_quote(quote_id)
        if quote is None or not await self._party_to(session, caller, quote.payer_fsp, quote.payee_fsp):
            raise QuoteNotFound(f"No quote {quote_id}.")
        return quote_read(quote)

    async def prepare(
        self, session: AsyncSession, caller: Caller, body: TransferPrepare, *, rt: Runtime
    ) -> tuple[TransferRead, bool]:
        """Reserve the funds; (the transfer, True) when this call created it, (it, False) on a replay."""
        currency = body.amount.currency
        payer, payee = await self._parties(session, caller, body.payer, body.payee, currency)
        amount = body.amount.minor
        now = rt.clock.now()
        expires_at = now + timedelta(seconds=rt.settings.transfer_timeout_seconds)
        if body.expiration is not None:
            expires_at = min(expires_at, body.expiration)
        fee = 0
        if body.quote_id is not None:
            fee = await self._check_quote(session, body, payer, payee, amount=amount, now=now)
        values = {
            "id": body.transfer_id, "quote_id": body.quote_id, "payer_account_id": payer.id,
            "payee_account_id": payee.id, "payer_fsp": payer.participant_id, "payee_fsp": payee.participant_id,
            "payer_address": payer.address, "payee_address": payee.address, "amount": amount, "fee": fee,
            "currency": currency, "condition": body.condition, "fulfilment": None,
            "state": TransferState.reserved.value, "abort_reason": None, "request_hash": body_hash(body),
            "created_by": caller.client_id, "created_at": now, "expires_at": expires_at, "completed_at": None,
            "window_id": None,
        }  # fmt: skip
        repository = TransferRepository.from_session(session)
        if not await repository.insert_transfer(values):
            existing = await repository.get_transfer(body.transfer_id)
            if existing is None or existing.request_hash != values["request_hash"]:
                raise DuplicateWithOtherValues(f"Transfer {body.transfer_id} exists with other values.")
            return transfer_read(existing), False
        legs = [Leg(body.transfer_id, payer.id, payee.id, amount, "transfer", body.transfer_id)]
        if fee:
            fees_account = account_id_for(payer.participant_id, AccountKind.fees, currency)
            legs.append(Leg(f"{body.transfer_id}:fee", payer.id, fees_account, fee, "fee", body.transfer_id))
        await ledger_service.post(session, legs, currency=currency, clock=rt.clock, pending=True, credits_checked=True)
        await rt.outbox.add(session, "payments.transfer.reserved", event_of(values))
        created = Transfer(**values)
        reserved = {"postings": [leg.id for leg in legs], "reserved": to_text(amount + fee, currency)}
        await self._sign_steps(session, created, [(Step.initiation, {"initiated_by": caller.client_id}),
                                                  (Step.reservation, reserved)], rt=rt)  # fmt: skip
        return transfer_read(created), True

    async def fulfil(
        self, session: AsyncSession, caller: Caller, transfer_id: str, body: TransferFulfil, *, rt: Runtime
    ) -> TransferRead:
        repository = TransferRepository.from_session(session)
        found = await repository.with_parties(transfer_id)
        if found is None:
            raise TransferNotFound(f"No transfer {transfer_id}.")
        transfer: Transfer = found.Transfer
        if not (caller.has_role("payments_operator") or found.payee_client == caller.client_id):
            transfer = await self._visible(session, caller, transfer_id, payee_only=True)  # refuses, as everywhere
        if condition_of(body.fulfilment) != transfer.condition:
            raise InvalidFulfilment("SHA-256 of the fulfilment is not the transfer's condition; it stays reserved.")
        now = rt.clock.now()
        live = transfer.state == TransferState.reserved.value and transfer.expires_at > now
        if live and found.payee_status != AccountStatus.active.value:
            await self._reverse(session, transfer, rt=rt)
            raise CreditFailed(f"The payee account of {transfer_id} accepts no credits; the payer's funds are "
                               "released and the payee is notified.")  # fmt: skip
        if committed := await repository.leave_reserved(transfer_id, TransferState.committed, now, unexpired=True,
                                                        fulfilment=body.fulfilment):  # fmt: skip
            await ledger_service.post_pending(session, legs_of(committed), clock=rt.clock)
            await rt.outbox.add(session, "payments.transfer.committed", event_of(committed))
            await self._sign(session, committed, Step.commit, {"postings": legs_of(committed)}, rt=rt)
            log.info("payments.transfer.committed", transfer_id=transfer_id)
            return transfer_read(committed)
        current = await self._reread(repository, transfer_id)
        if current.state == TransferState.committed.value:
            return transfer_read(current)  # a replay of the fulfilment that committed it
        if current.state == TransferState.reserved.value:  # reserved, but past its expiry: release it now
            await self._expire(session, current, rt=rt)
            raise TransferExpired(f"Transfer {transfer_id} expired at {current.expires_at.isoformat()}.")
        raise TransferNotReserved(f"Transfer {transfer_id} is {current.state} ({current.abort_reason}).")

    async def abort(
        self, session: AsyncSession, caller: Caller, transfer_id: str, body: TransferAbort, *, rt: Runtime
    ) -> TransferRead:
        repository = TransferRepository.from_session(session)
        transfer = await self._visible(session, caller, transfer_id, payee_only=False)
        aborted = await repository.leave_reserved(
            transfer_id, TransferState.aborted, rt.clock.now(), unexpired=False, abort_reason=AbortReason.rejected.value
        )
        if aborted:
            await ledger_service.void_pending(session, legs_of(transfer), clock=rt.clock)
            await rt.outbox.add(session, "payments.transfer.aborted", {**event_of(transfer), "reason": "rejected"})
            await self._sign(session, aborted, Step.abort, {"reason": body.reason, "by": caller.client_id}, rt=rt)
            return transfer_read(aborted)
        current = await self._reread(repository, transfer_id)
        if current.state == TransferState.aborted.value:
            return transfer_read(current)
        raise TransferNotReserved(f"Transfer {transfer_id} is {current.state}.")

    async def get(self, session: AsyncSession, caller: Caller, transfer_id: str) -> TransferRead:
        return transfer_read(await self._visible(session, caller, transfer_id, payee_only=False))

    async def expire_due(self, session: AsyncSession, *, rt: Runtime, limit: int = 500) -> int:
        """Release the reservations of transfers past their expiry; how many were released."""
        repository = TransferRepository.from_session(session)
        count = 0
        for transfer_id in await repository.due_for_expiry(rt.clock.now(), limit):
            transfer = await repository.get_transfer(transfer_id)
            if transfer is not None and await self._expire(session, transfer, rt=rt):
                count += 1
        return count

    async def _expire(self, session: AsyncSession, transfer: Transfer, *, rt: Runtime) -> bool:
        repository = TransferRepository.from_session(session)
        expired = await repository.leave_reserved(transfer.id, TransferState.aborted, rt.clock.now(), unexpired=False,
                                                  abort_reason=AbortReason.expired.value)  # fmt: skip
        if expired is None:
            return False
        await ledger_service.void_pending(session, legs_of(transfer), clock=rt.clock)
        await rt.outbox.add(session, "payments.transfer.aborted", {**event_of(transfer), "reason": "expired"})
        await self._sign(session, expired, Step.abort, {"reason": "expired"}, rt=rt)
        log.info("payments.transfer.expired", transfer_id=transfer.id)
        return True

    async def _reverse(self, session: AsyncSession, transfer: Transfer, *, rt: Runtime) -> None:
        """A credit that cannot land: release the payer's reservation, record the reversal, tell the payee."""
        repository = TransferRepository.from_session(session)
        reversed_ = await repository.leave_reserved(
            transfer.id, TransferState.aborted, rt.clock.now(), unexpired=False,
            abort_reason=AbortReason.credit_failed.value,
        )  # fmt: skip
        if reversed_ is None:
            return
        await ledger_service.void_pending(session, legs_of(transfer), clock=rt.clock)
        await self._sign(session, reversed_, Step.reversal, {"reason": "credit_failed"}, rt=rt)
        await rt.outbox.add(session, "payments.transfer.reversed", {
            **event_of(transfer), "reason": "credit_failed", "payee_fsp": transfer.payee_fsp,
            "payee_address": transfer.payee_address, "notify": "payee",
        })  # fmt: skip

    async def _sign(
        self, session: AsyncSession, transfer: Transfer, step: Step, facts: dict[str, Any], *, rt: Runtime
    ) -> None:
        await self._sign_steps(session, transfer, [(step, facts)], rt=rt)

    async def _sign_steps(
        self, session: AsyncSession, transfer: Transfer, steps: list[tuple[Step, dict[str, Any]]], *, rt: Runtime
    ) -> None:
        await record_service.sign_steps(session, transaction_id=transfer.id, kind="transfer", rt=rt,
                                        steps=step_records(transfer, steps))  # fmt: skip

    async def _parties(
        self, session: AsyncSession, caller: Caller, payer_address: PaymentAddress, payee_address: PaymentAddress,
        currency: str,
    ) -> tuple[Any, Any]:  # fmt: skip
        """The payer's and payee's accounts (rows), once the caller is known to act for the payer's FSP."""
        payer_key = (payer_address.fsp_id, payer_address.address)
        found = await LedgerRepository.from_session(session).two_accounts(
            payer_key, (payee_address.fsp_id, payee_address.address)
        )
        payer, payee = found.get(payer_key), found.get((payee_address.fsp_id, payee_address.address))
        if not caller.has_role("payments_operator") and (payer is None or payer.client_id != caller.client_id):
            # The refusal, or (the payer account is missing) whether the caller may hear that, as everywhere else.
            await ledger_service.ensure_acts_for(session, caller, payer_address.fsp_id)
        if payer is None:
            raise AccountNotFound(f"No payer account {payer_address.address} at {payer_address.fsp_id}.")
        if payee is None:
            raise PartyNotFound(f"No payee account {payee_address.address} at {payee_address.fsp_id}.")
        if payer.id == payee.id:
            raise SameAccount("A transfer needs two accounts.")
        for account in (payer, payee):
            if account.currency != currency:
                raise CurrencyMismatch(
                    f"Account {account.address} at {account.participant_id} holds {account.currency}."
                )
            if account.status != AccountStatus.active.value:
                raise AccountClosed(f"Account {account.address} at {account.participant_id} is closed.")
        return payer, payee

    async def _check_quote(
        self,
        session: AsyncSession,
        body: TransferPrepare,
        payer: Any,
        payee: Any,
        *,
        amount: int,
        now: datetime,
    ) -> int:
        assert body.quote_id is not None
        quote = await TransferRepository.from_session(session).get_quote(body.quote_id)
        if quote is None:
            raise QuoteNotFound(f"No quote {body.quote_id}.")
        if quote.expires_at <= now:
            raise QuoteExpired(f"Quote {body.quote_id} expired at {quote.expires_at.isoformat()}; ask for another.")
        if (quote.payer_account_id, quote.payee_account_id, quote.amount, quote.currency) != (
            payer.id, payee.id, amount, body.amount.currency,
        ):  # fmt: skip
            raise QuoteMismatch("The payer, payee or amount differ from the quote's.")
        if quote.condition != body.condition:
            raise QuoteMismatch("The condition is not the one the payee FSP gave in the quote.")
        return quote.fee

    async def _party_to(self, session: AsyncSession, caller: Caller, *fsps: str) -> bool:
        for fsp in fsps:
            if await ledger_service.acts_for(session, caller, fsp):
                return True
        return caller.has_role("auditor")

    async def _visible(self, session: AsyncSession, caller: Caller, transfer_id: str, *, payee_only: bool) -> Transfer:
        transfer = await TransferRepository.from_session(session).get_transfer(transfer_id)
        if transfer is None:
            raise TransferNotFound(f"No transfer {transfer_id}.")
        parties = (transfer.payee_fsp,) if payee_only else (transfer.payer_fsp, transfer.payee_fsp)
        if not await self._party_to(session, caller, *parties):
            if await self._party_to(session, caller, transfer.payer_fsp, transfer.payee_fsp):
                raise PolicyDenied("SG-SEC-1", "Only the payee FSP fulfils a transfer.")
            raise TransferNotFound(f"No transfer {transfer_id}.")
        return transfer

    @staticmethod
    async def _reread(repository: TransferRepository, transfer_id: str) -> Transfer:
        transfer = await repository.get_transfer(transfer_id)
        assert transfer is not None
        return transfer


def step_records(transfer: Any, steps: list[tuple[Step, dict[str, Any]]]) -> list[tuple[Step, dict[str, Any]]]:
    """What the signed record of each step of `transfer` (a Transfer, or a row with its columns) says."""
    currency = transfer.currency
    common = {
        "state": transfer.state, "payer": {"fsp_id": transfer.payer_fsp, "address": transfer.payer_address},
        "payee": {"fsp_id": transfer.payee_fsp, "address": transfer.payee_address},
        "amount": to_text(transfer.amount, currency), "fee": to_text(transfer.fee, currency), "currency": currency,
        "condition": transfer.condition, "fulfilment": transfer.fulfilment, "quote_id": transfer.quote_id,
        "expires_at": transfer.expires_at.isoformat(),
    }  # fmt: skip
    return [(step, {**common, **facts}) for step, facts in steps]


def event_of(transfer: Any) -> dict[str, Any]:
    """The payload of a transfer's events (a Transfer, a row with its columns, or the values of one)."""
    get = transfer.get if isinstance(transfer, dict) else lambda key: getattr(transfer, key)
    return {"transfer_id": get("id"), "payer_fsp": get("payer_fsp"), "payee_fsp": get("payee_fsp"),
            "amount": get("amount"), "currency": get("currency")}  # fmt: skip


def quote_read(quote: Quote) -> QuoteRead:
    currency = quote.currency
    return QuoteRead(
        quote_id=quote.id,
        payer=PaymentAddress.model_construct(fsp_id=quote.payer_fsp, address=quote.payer_address),
        payee=PaymentAddress.model_construct(fsp_id=quote.payee_fsp, address=quote.payee_address),
        transfer_amount=Money.of(quote.amount, currency),
        payer_fee=Money.of(quote.fee, currency),
        payer_total=Money.of(quote.amount + quote.fee, currency),
        condition=quote.condition,
        expiration=quote.expires_at,
    )


def transfer_read(transfer: Any) -> TransferRead:
    """The wire shape of a transfer (a Transfer, or a row with its columns)."""
    currency = transfer.currency
    return TransferRead(
        transfer_id=transfer.id,
        quote_id=transfer.quote_id,
        state=TransferState(transfer.state),
        abort_reason=AbortReason(transfer.abort_reason) if transfer.abort_reason else None,
        payer=PaymentAddress.model_construct(fsp_id=transfer.payer_fsp, address=transfer.payer_address),
        payee=PaymentAddress.model_construct(fsp_id=transfer.payee_fsp, address=transfer.payee_address),
        amount=Money.of(transfer.amount, currency),
        payer_fee=Money.of(transfer.fee, currency),
        condition=transfer.condition,
        fulfilment=transfer.fulfilment,
        expiration=transfer.expires_at,
        created_at=transfer.created_at,
        completed_at=transfer.completed_at,
    )


transfer = TransferService()
