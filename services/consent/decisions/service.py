"""Decisions for the gateway: is this use of this subject's data by this requester for this purpose covered?

A permit is one statement, Core and built once: an UPDATE that takes one use of the newest artefact that covers the
use (granted, valid at `at`, within its use count and frequency, covering a requested item, the processing location
allowed, the purpose active), and only if it still does when the row is locked (`... WHERE status = 'granted' AND
(use_limit IS NULL OR uses < use_limit) ...`). The database decides which of many concurrent decisions gets the last
use, so a use count of 10 permits exactly 10 however many ask at once, in one process or many; and nothing is
cached, so a revocation committed before a decision is seen by it, whichever process asks.

The permits of one process are committed in groups (`take_uses`, through `Runtime.permits`): the decisions that
arrive while a batch commits go together in the next one, their statements pipelined in one transaction (one round
trip, one commit: the WAL flush that makes a use durable is paid once per batch), and each is answered only after
that commit. A decision alone goes at once.

A dry run (`dry_run`, the gateway's `POST /governance/decide`) reads and chooses as the general path does and
stops before the UPDATE: the same outcome, no use taken, nothing written.

When that statement takes nothing, the general path reads the purpose with the requester's artefacts from the
subject and explains the outcome: a statute permit, a deny naming the rule, or (after a lost race, or for rows the
one statement cannot match) a permit through the same conditional UPDATE by id.
"""

from __future__ import annotations

import functools
import operator
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import Boolean, Integer, Update, and_, bindparam, case, exists, or_, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from services.common import jws
from services.common.db import autocommit_connection, fetch_prepared_many, table_of
from services.common.groupcommit import GroupCommit
from services.common.ids import new_id
from services.common.problems import InvalidInput
from services.consent.consents.models import Consent
from services.consent.consents.schemas import ConsentStatus
from services.consent.decisions.schemas import USE_RECEIPT_ISSUER, USE_RECEIPT_TYPE, Decision, DecisionRequest
from services.consent.deps import Runtime
from services.consent.purposes.models import Purpose
from services.consent.purposes.schemas import PurposeStatus

CANDIDATES = 20  # the newest artefacts of one requester from one subject for one purpose that a decision weighs
# The calendar period of a use for each frequency unit: that many characters of the time's ISO 8601 form, in the
# time's own offset ("2026-03-14T09" for an hourly limit, "2026-03-14", "2026-03", "2026").
WINDOW_LENGTHS = {"hour": 13, "day": 10, "month": 7, "year": 4}

Candidate: TypeAlias = Any  # a row of _CANDIDATES: the purpose's columns and one artefact's (or NULLs)

consents = table_of(Consent)
purposes = table_of(Purpose)

_CANDIDATES = (
    select(
        purposes.c.status.label("purpose_status"),
        purposes.c.statutes,
        purposes.c.allowed_items,
        purposes.c.max_data_life_days,
        consents.c.id,
        consents.c.status,
        consents.c.version,
        consents.c["items"].label("consent_items"),
        consents.c.valid_from,
        consents.c.expires_at,
        consents.c.use_limit,
        consents.c.uses,
        consents.c.frequency_unit,
        consents.c.frequency_value,
        consents.c.window_key,
        consents.c.window_uses,
        consents.c.jurisdiction,
        consents.c.transfer_basis,
        consents.c.data_life_seconds,
    )
    .select_from(
        purposes.outerjoin(
            consents,
            and_(
                consents.c.purpose == purposes.c.code,
                consents.c.requester == bindparam("q_requester"),
                consents.c.subject == bindparam("q_subject"),
            ),
        )
    )
    .where(purposes.c.code == bindparam("q_purpose"))
    .order_by(consents.c.updated_at.desc(), consents.c.id.desc())
    .limit(CANDIDATES)
)

# The calendar period of `at` for each frequency unit, picked by the artefact's own unit.
_WINDOW = case(
    (consents.c.frequency_unit == "hour", bindparam("window_hour")),
    (consents.c.frequency_unit == "day", bindparam("window_day")),
    (consents.c.frequency_unit == "month", bindparam("window_month")),
    else_=bindparam("window_year"),
)
# What must hold of the artefact at the moment its row is locked, whichever statement takes the use.
_STILL_USABLE = (
    consents.c.status == ConsentStatus.granted.value,
    consents.c.valid_from <= bindparam("at"),
    consents.c.expires_at > bindparam("at"),
    or_(consents.c.use_limit.is_(None), consents.c.uses < consents.c.use_limit),
    or_(
        consents.c.frequency_value.is_(None),
        consents.c.window_key.is_(None),
        consents.c.window_key != _WINDOW,
        consents.c.window_uses < consents.c.frequency_value,
    ),
)
_TAKE = {
    "uses": consents.c.uses + 1,
    "last_used_at": bindparam("at"),
    "window_uses": case((consents.c.window_key == _WINDOW, consents.c.window_uses + 1), else_=1),
    "window_key": _WINDOW,
}
_RETURNING = (
    consents.c.id,
    consents.c.version,
    consents.c["items"].label("consent_items"),
    consents.c.expires_at,
    consents.c.data_life_seconds,
    consents.c.uses,
    consents.c.use_limit,
)
# The general path's take: this artefact, if it still allows the use.
_TAKE_USE = update(consents).where(consents.c.id == bindparam("consent_id"), *_STILL_USABLE).values(_TAKE)
_TAKE_USE = _TAKE_USE.returning(*_RETURNING)
FAST_PATH_MAX_ITEMS = 8
PERMITS_PER_BATCH = 64  # decisions of one process committed together at most (their rows stay locked until then)


@functools.cache
def _take_newest_covering() -> Update:
    """The permit's one statement, for up to FAST_PATH_MAX_ITEMS requested items (built once).

    A question with fewer items repeats its last item's pattern (`item_n`), so that every question runs the same
    statement and a batch of them goes to the database as one pipelined group. `slot` comes back with the row taken,
    telling which question of the group took it."""
    newest = (
        select(consents.c.id)
        .where(
            consents.c.requester == bindparam("q_requester"),
            consents.c.subject == bindparam("q_subject"),
            consents.c.purpose == bindparam("q_purpose"),
            *_STILL_USABLE,
            or_(*(consents.c.items_key.like(bindparam(f"item_{n}")) for n in range(FAST_PATH_MAX_ITEMS))),
            or_(
                bindparam("location_allowed", type_=Boolean),
                and_(consents.c.jurisdiction_key.like(bindparam("location")), consents.c.transfer_basis.is_not(None)),
            ),
            exists().where(purposes.c.code == consents.c.purpose, purposes.c.status == PurposeStatus.active.value),
        )
        .order_by(consents.c.updated_at.desc(), consents.c.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    slot = bindparam("slot", type_=Integer).label("slot")
    return update(consents).where(consents.c.id == newest, *_STILL_USABLE).values(_TAKE).returning(*_RETURNING, slot)


def item_patterns(items: Sequence[str]) -> dict[str, str]:
    """The statement's `item_n` parameters for up to FAST_PATH_MAX_ITEMS items, the last one repeated."""
    patterns = [f"%,{item},%" for item in items]
    patterns += patterns[-1:] * (FAST_PATH_MAX_ITEMS - len(patterns))
    return {f"item_{n}": pattern for n, pattern in enumerate(patterns)}


# Where a question's row lock falls in its batch: two processes' batches lock the artefacts of the questions they
# share in the same order, so they wait for each other rather than deadlock.
_lock_order = operator.itemgetter(
    "q_requester", "q_subject", "q_purpose", *(f"item_{n}" for n in range(FAST_PATH_MAX_ITEMS))
)


async def take_uses(engine: AsyncEngine, questions: Sequence[dict[str, Any]]) -> list[Any]:
    """The permit's statement for each question of a batch, in one transaction (group commit); for each question
    the row it took a use of, or None.

    On PostgreSQL the batch goes as one pipelined group on a connection from the pool (`fetch_prepared_many`): one
    round trip and one commit, whose WAL flush is most of the database's cost of a permit, shared by the batch. The
    runs are consecutive statements of one transaction, so each sees the uses the runs before it took: two
    questions on the same artefact with one use left get one permit, as they would one after the other. Every
    question is answered only after the commit (`GroupCommit`), so a use is durable before its permit leaves. If the
    batch fails as a whole (a deadlock with another process's batch, a value the database refuses), none of it took
    effect, and each question is run again on its own, so that only a question that fails by itself fails."""
    statement = _take_newest_covering()
    order = sorted(range(len(questions)), key=lambda n: _lock_order(questions[n])) if len(questions) > 1 else [0]
    try:
        rows = await fetch_prepared_many(engine, statement, [questions[n] | {"slot": n} for n in order])
    except Exception:
        if len(questions) == 1:
            raise
        return [await _take_alone(engine, question) for question in questions]
    taken = {row.slot: row for row in rows}
    return [taken.get(n) for n in range(len(questions))]


async def _take_alone(engine: AsyncEngine, question: dict[str, Any]) -> Any:
    try:
        rows = await fetch_prepared_many(engine, _take_newest_covering(), [question | {"slot": 0}])
    except Exception as error:  # this question's own failure, raised by its caller
        return error
    return rows[0] if rows else None


def permit_group(engine: AsyncEngine) -> GroupCommit[dict[str, Any], Any]:
    """The process's group commit of permits (`Runtime.permits`)."""
    return GroupCommit(
        functools.partial(take_uses, engine), max_batch=PERMITS_PER_BATCH, name="consent-permits", in_flight=1
    )


class DecisionTimeRefused(InvalidInput):
    title = "The decision's time is too far from the consent service's clock"
    type_slug = "consent/decision-time"
    code = "consent.decision_time"


@dataclass(frozen=True)
class Refusal:
    rule_id: str
    detail: str
    consent_id: str | None = None


def window_key(unit: str | None, at: datetime) -> str | None:
    """The calendar period a frequency-limited use falls in ("2026-03-14" for a daily limit)."""
    return at.isoformat()[: WINDOW_LENGTHS[unit]] if unit else None


_WINDOW_PARAMETERS = tuple((f"window_{unit}", length) for unit, length in WINDOW_LENGTHS.items())


def windows(at: datetime) -> dict[str, str]:
    text = at.isoformat()  # one formatting for the four periods (decisions are within minutes of now: 4-digit years)
    return {name: text[:length] for name, length in _WINDOW_PARAMETERS}


def question(body: DecisionRequest, at: datetime, rt: Runtime) -> dict[str, Any]:
    """The statements' parameters for `body` asked at `at` (the permit's adds `item_patterns`)."""
    location = body.processing_location
    return {
        "q_requester": body.requester, "q_subject": body.subject, "q_purpose": body.purpose, "at": at,
        **windows(at),
        "location_allowed": location is None or location in rt.settings.approved_jurisdictions,
        "location": f"%,{location},%",
    }  # fmt: skip


class DecisionService:
    async def decide(self, engine: AsyncEngine, body: DecisionRequest, *, rt: Runtime) -> Decision:
        now = rt.clock.now()
        at = body.at if body.at is not None else now
        if at.tzinfo is None or abs(at - now) > timedelta(seconds=rt.settings.decision_clock_skew_seconds):
            raise DecisionTimeRefused(
                f"`at` must carry its UTC offset and lie within {rt.settings.decision_clock_skew_seconds} s of now."
            )
        params = question(body, at, rt)
        if body.dry_run:
            return await self._evaluate(engine, body, params, at, rt)
        if len(body.items) <= FAST_PATH_MAX_ITEMS:
            taken = await rt.permits.submit(params | item_patterns(body.items))
            if taken is not None:
                return self._receipted(self._permit(body, taken, at), body, at, rt)
        async with autocommit_connection(engine) as connection:
            for _attempt in range(3):  # a lost race (revoked or used up in between) is decided again on fresh rows
                rows = (await connection.execute(_CANDIDATES, params)).all()
                outcome = self._choose(rows, body, at, rt)
                if isinstance(outcome, Decision):
                    return self._receipted(outcome, body, at, rt)
                if isinstance(outcome, Refusal):
                    return self._deny(body, outcome)
                taken = (await connection.execute(_TAKE_USE, params | {"consent_id": outcome.id})).first()
                if taken is not None:
                    return self._receipted(self._permit(body, taken, at), body, at, rt)
        return self._deny(body, Refusal("SG-CONSENT-1", "The consent changed while this decision was taken."))

    async def _evaluate(
        self, engine: AsyncEngine, body: DecisionRequest, params: dict[str, Any], at: datetime, rt: Runtime
    ) -> Decision:
        """The dry run: the general path's reading and choice, without the UPDATE that takes the use."""
        async with engine.connect() as connection:
            rows = (await connection.execute(_CANDIDATES, params)).all()
        outcome = self._choose(rows, body, at, rt)
        if isinstance(outcome, Refusal):
            decision = self._deny(body, outcome)
        elif isinstance(outcome, Decision):
            decision = outcome
        else:
            decision = self._permit(body, outcome, at, uses_after=outcome.uses + 1)
        return decision.model_copy(update={"dry_run": True})

    @staticmethod
    def _receipted(decision: Decision, body: DecisionRequest, at: datetime, rt: Runtime) -> Decision:
        """The permit with its signed data-use receipt, if one was asked for (SG-PURPOSE-2)."""
        if not body.use_receipt or decision.decision != "permit" or decision.data_life_until is None:
            return decision
        claims = {
            "iss": USE_RECEIPT_ISSUER, "aud": body.requester, "sub": body.subject, "purpose": body.purpose,
            "items": decision.covered_items, "consent_id": decision.consent_id, "decision_id": decision.decision_id,
            "legal_basis": decision.legal_basis, "iat": int(at.timestamp()),
            "exp": int(decision.data_life_until.timestamp()),
        }  # fmt: skip
        token = jws.sign_record(rt.signing_key, claims, typ=USE_RECEIPT_TYPE)
        return decision.model_copy(update={"use_receipt": token})

    @staticmethod
    def _permit(body: DecisionRequest, taken: Candidate, at: datetime, *, uses_after: int | None = None) -> Decision:
        """A permit from the artefact's row as the take returned it (`uses` counts this use), or as a dry run
        read it (`uses_after`: the count this use would make)."""
        uses = taken.uses if uses_after is None else uses_after
        return Decision(
            decision="permit",
            decision_id=new_id("dec"),
            consent_id=taken.id,
            artefact_version=taken.version,
            covered_items=[item for item in body.items if item in taken.consent_items],
            purpose=body.purpose,
            legal_basis="consent",
            rule_id=None,
            detail=None,
            valid_until=taken.expires_at,
            data_life_until=at + timedelta(seconds=taken.data_life_seconds),
            uses_remaining=taken.use_limit - uses if taken.use_limit is not None else None,
        )

    def _choose(self, rows: Sequence[Candidate], body: DecisionRequest, at: datetime, rt: Runtime) -> Any:
        """The artefact to take a use of, a statute permit, or the refusal that explains the outcome best."""
        if not rows:
            return Refusal("SG-PURPOSE-1", f"Purpose {body.purpose} is not in the purpose registry.")
        purpose_status = rows[0].purpose_status
        if purpose_status != PurposeStatus.active:
            return Refusal("SG-PURPOSE-1", f"Purpose {body.purpose} is {purpose_status}, not active.")
        artefacts = [row for row in rows if row.id is not None]
        usable: list[tuple[int, Candidate]] = []
        newest_refusal: Refusal | None = None  # rows come newest first: the latest change explains best
        for row in artefacts:
            refusal = self._refusal(row, body, at, rt)
            if refusal is None:
                usable.append((sum(item in row.consent_items for item in body.items), row))
            elif newest_refusal is None:
                newest_refusal = refusal
        if usable:
            return max(usable, key=lambda pair: pair[0])[1]  # the widest cover; the newest among equals (stable)
        statute = next((entry for entry in rows[0].statutes if body.requester in entry.get("requesters", [])), None)
        if statute is not None:
            covered = [item for item in body.items if item in rows[0].allowed_items]
            if covered:
                return Decision(
                    decision="permit",
                    decision_id=new_id("dec"),
                    consent_id=None,
                    artefact_version=None,
                    covered_items=covered,
                    purpose=body.purpose,
                    legal_basis="statute",
                    statute=statute["reference"],
                    rule_id=None,
                    detail=None,
                    valid_until=None,
                    data_life_until=at + timedelta(days=rows[0].max_data_life_days),
                )
        if newest_refusal is not None:
            return newest_refusal
        return Refusal(
            "SG-CONSENT-1",
            f"No consent by this subject for requester {body.requester} and purpose {body.purpose}.",
        )

    @staticmethod
    def _refusal(row: Candidate, body: DecisionRequest, at: datetime, rt: Runtime) -> Refusal | None:
        """Why this artefact does not cover the use (None: it does, if its use is still there to take)."""
        refusal = DecisionService._why_not(row, body, at, rt)
        return Refusal(refusal.rule_id, refusal.detail, row.id) if refusal is not None else None

    @staticmethod
    def _why_not(row: Candidate, body: DecisionRequest, at: datetime, rt: Runtime) -> Refusal | None:
        status = ConsentStatus(row.status)
        if status is ConsentStatus.revoked:
            return Refusal("SG-CONSENT-4", f"Consent {row.id} was revoked by the subject.")
        if status is ConsentStatus.expired or (status is ConsentStatus.granted and row.expires_at <= at):
            return Refusal("SG-CONSENT-5", f"Consent {row.id} expired at {row.expires_at.isoformat()}.")
        if status is ConsentStatus.requested:
            return Refusal("SG-CONSENT-1", f"Consent {row.id} awaits the subject's answer.")
        if status is ConsentStatus.denied:
            return Refusal("SG-CONSENT-1", f"The subject refused consent {row.id}.")
        if row.valid_from > at:
            return Refusal("SG-CONSENT-1", f"Consent {row.id} is valid only from {row.valid_from.isoformat()}.")
        if row.use_limit is not None and row.uses >= row.use_limit:
            return Refusal("SG-CONSENT-1", f"Consent {row.id} allowed {row.use_limit} uses; all are used.")
        if (
            row.frequency_value is not None
            and row.window_key == window_key(row.frequency_unit, at)
            and row.window_uses >= row.frequency_value
        ):
            return Refusal(
                "SG-CONSENT-1", f"Consent {row.id} allows {row.frequency_value} uses per {row.frequency_unit}."
            )
        if not any(item in row.consent_items for item in body.items):
            return Refusal("SG-CONSENT-3", f"Consent {row.id} covers none of the requested items.")
        location = body.processing_location
        if (
            location is not None
            and location not in rt.settings.approved_jurisdictions
            and not (location in row.jurisdiction and row.transfer_basis)
        ):
            return Refusal(
                "SG-XBORDER-1",
                f"The requester processes data in {location}, which is not approved and which consent {row.id} does "
                "not name with a transfer basis.",
            )
        return None

    @staticmethod
    def _deny(body: DecisionRequest, refusal: Refusal) -> Decision:
        return Decision(
            decision="deny",
            decision_id=new_id("dec"),
            consent_id=refusal.consent_id,
            artefact_version=None,
            covered_items=[],
            purpose=body.purpose,
            legal_basis=None,
            rule_id=refusal.rule_id,
            detail=refusal.detail,
            valid_until=None,
        )


decision = DecisionService()
