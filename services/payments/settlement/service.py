"""Deferred net settlement: close a window (its committed transfers' net positions, from the ledger's postings),
then settle it by posting each FSP's net through the settlement bank's clearing account."""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.ids import new_id
from services.payments.deps import Runtime
from services.payments.ledger.models import AccountKind
from services.payments.ledger.service import SETTLEMENT_BANK, Leg, account_id_for
from services.payments.ledger.service import ledger as ledger_service
from services.payments.money import SignedMoney, to_text
from services.payments.records.models import Step
from services.payments.records.service import record as record_service
from services.payments.settlement.errors import WindowNotClosed, WindowNotFound
from services.payments.settlement.models import NetPosition, SettlementWindow, WindowState
from services.payments.settlement.schemas import Position, WindowRead

_FLOWS = text("""
    SELECT transfers.payer_fsp, transfers.payee_fsp, postings.currency, SUM(postings.amount)
    FROM postings JOIN transfers ON transfers.id = postings.id
    WHERE postings.code = 'transfer' AND postings.state = 'posted' AND transfers.window_id = :w
    GROUP BY transfers.payer_fsp, transfers.payee_fsp, postings.currency
""")


class SettlementService:
    async def close(self, session: AsyncSession, *, rt: Runtime) -> WindowRead:
        """Close the open window (opening the first if none): its transfers, its net positions; a new one opens."""
        now = rt.clock.now()
        window = (
            await session.scalars(
                select(SettlementWindow).where(SettlementWindow.state == WindowState.open.value).with_for_update()
            )
        ).first()
        if window is None:
            window = SettlementWindow(id=new_id("win"), state=WindowState.open.value, opened_at=now)
            session.add(window)
            await session.flush()
        await session.execute(
            text("UPDATE transfers SET window_id = :w WHERE state = 'committed' AND window_id IS NULL"),
            {"w": window.id},
        )
        nets: dict[tuple[str, str], int] = defaultdict(int)
        for payer, payee, currency, amount in (await session.execute(_FLOWS, {"w": window.id})).all():
            if payer != payee:
                nets[(payer, currency)] -= int(amount)
                nets[(payee, currency)] += int(amount)
        session.add_all(
            NetPosition(window_id=window.id, participant_id=p, currency=c, net=n) for (p, c), n in nets.items()
        )
        window.state, window.closed_at = WindowState.closed.value, now
        session.add(SettlementWindow(id=new_id("win"), state=WindowState.open.value, opened_at=now))
        await session.flush()
        return await self.get(session, window.id)

    async def settle(self, session: AsyncSession, window_id: str, *, rt: Runtime) -> WindowRead:
        """Post each net position to the settlement bank: debtors into clearing first, then clearing to creditors."""
        window = await session.get(SettlementWindow, window_id, with_for_update=True)
        if window is None:
            raise WindowNotFound(f"No settlement window {window_id}.")
        if window.state == WindowState.settled.value:
            return await self.get(session, window_id)
        if window.state != WindowState.closed.value:
            raise WindowNotClosed(f"Window {window_id} is {window.state}; close it first.")
        positions = (await session.scalars(select(NetPosition).where(NetPosition.window_id == window_id))).all()
        for position in sorted(positions, key=lambda p: p.net):  # debits (negative nets) before credits
            if position.net == 0:
                continue
            own = account_id_for(position.participant_id, AccountKind.settlement, position.currency)
            clearing = account_id_for(SETTLEMENT_BANK, AccountKind.clearing, position.currency)
            debit, credit = (own, clearing) if position.net < 0 else (clearing, own)
            leg = Leg(f"{window_id}:{position.participant_id}:{position.currency}", debit, credit, abs(position.net),
                      "settlement", window_id)  # fmt: skip
            await ledger_service.post(session, [leg], currency=position.currency, clock=rt.clock)
        await session.execute(
            update(SettlementWindow).where(SettlementWindow.id == window_id)
            .values(state=WindowState.settled.value, settled_at=rt.clock.now())
        )  # fmt: skip
        facts = {"positions": [{"participant_id": p.participant_id, "currency": p.currency,
                                "net": to_text(p.net, p.currency)} for p in positions]}  # fmt: skip
        await record_service.sign(session, transaction_id=window_id, kind="settlement", step=Step.settlement,
                                  facts=facts, rt=rt)  # fmt: skip
        await rt.outbox.add(session, "payments.settlement.settled", {"window_id": window_id, **facts})
        return await self.get(session, window_id)

    async def get(self, session: AsyncSession, window_id: str) -> WindowRead:
        window = await session.get(SettlementWindow, window_id, populate_existing=True)
        if window is None:
            raise WindowNotFound(f"No settlement window {window_id}.")
        positions = (await session.scalars(select(NetPosition).where(NetPosition.window_id == window_id))).all()
        return WindowRead(
            window_id=window.id, state=WindowState(window.state), opened_at=window.opened_at,
            closed_at=window.closed_at, settled_at=window.settled_at,
            positions=[Position(participant_id=p.participant_id, net=SignedMoney.of(p.net, p.currency))
                       for p in sorted(positions, key=lambda p: p.participant_id)],
        )  # fmt: skip


settlement = SettlementService()
