"""Decisions for the gateway: is this use of this subject's data by this requester for this purpose covered?

The hot path is two statements in one transaction, both Core and built once: a SELECT of the purpose with the
requester's artefacts from the subject for it, then a conditional UPDATE that takes one use of the chosen artefact
only if it is still granted, valid and within its use count and frequency (`... WHERE status = 'granted' AND
(use_limit IS NULL OR uses < use_limit) ...`). The database decides which of many concurrent decisions gets the last
use, so a use count of 10 permits exactly 10 however many ask at once, in one process or many; and nothing is
cached, so a revocation committed before a decision is seen by it, whichever process asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeAlias

from sqlalchemy import and_, bindparam, case, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.db import table_of
from services.common.ids import new_id
from services.common.problems import InvalidInput
from services.consent.consents.models import Consent
from services.consent.consents.schemas import ConsentStatus
from services.consent.decisions.schemas import Decision, DecisionRequest
from services.consent.deps import Runtime
from services.consent.purposes.models import Purpose
from services.consent.purposes.schemas import PurposeStatus

CANDIDATES = 20  # the newest artefacts of one requester from one subject for one purpose that a decision weighs
WINDOW_FORMATS = {"hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d", "month": "%Y-%m", "year": "%Y"}

Candidate: TypeAlias = Any  # a row of _CANDIDATES: the purpose's columns and one artefact's (or NULLs)

consents = table_of(Consent)
purposes = table_of(Purpose)

_CANDIDATES = (
    select(
        purposes.c.status.label("purpose_status"),
        purposes.c.statutes,
        purposes.c.allowed_items,
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
                consents.c.requester == bindparam("requester"),
                consents.c.subject == bindparam("subject"),
            ),
        )
    )
    .where(purposes.c.code == bindparam("purpose"))
    .order_by(consents.c.updated_at.desc(), consents.c.id.desc())
    .limit(CANDIDATES)
)

# Take one use, only if the artefact still allows it at this moment: the database arbitrates concurrent decisions.
_TAKE_USE = (
    update(consents)
    .where(
        consents.c.id == bindparam("consent_id"),
        consents.c.status == ConsentStatus.granted.value,
        consents.c.valid_from <= bindparam("at"),
        consents.c.expires_at > bindparam("at"),
        or_(consents.c.use_limit.is_(None), consents.c.uses < consents.c.use_limit),
        or_(
            consents.c.frequency_value.is_(None),
            consents.c.window_key.is_(None),
            consents.c.window_key != bindparam("window"),
            consents.c.window_uses < consents.c.frequency_value,
        ),
    )
    .values(
        uses=consents.c.uses + 1,
        last_used_at=bindparam("at"),
        window_uses=case((consents.c.window_key == bindparam("window"), consents.c.window_uses + 1), else_=1),
        window_key=bindparam("window"),
    )
    .returning(consents.c.version, consents.c.uses, consents.c.use_limit)
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
    return at.strftime(WINDOW_FORMATS[unit]) if unit else None


class DecisionService:
    async def decide(self, session: AsyncSession, body: DecisionRequest, *, rt: Runtime) -> Decision:
        now = rt.clock.now()
        at = body.at if body.at is not None else now
        if at.tzinfo is None or abs(at - now) > timedelta(seconds=rt.settings.decision_clock_skew_seconds):
            raise DecisionTimeRefused(
                f"`at` must carry its UTC offset and lie within {rt.settings.decision_clock_skew_seconds} s of now."
            )
        params = {"requester": body.requester, "subject": body.subject, "purpose": body.purpose}
        for _attempt in range(3):  # a lost race (revoked or used up in between) is decided again on fresh rows
            rows = (await session.execute(_CANDIDATES, params)).all()
            outcome = self._choose(rows, body, at, rt)
            if isinstance(outcome, Decision):
                return outcome
            if isinstance(outcome, Refusal):
                return self._deny(body, outcome)
            taken = (
                await session.execute(
                    _TAKE_USE, {"consent_id": outcome.id, "at": at, "window": window_key(outcome.frequency_unit, at)}
                )
            ).first()
            if taken is not None:
                remaining = taken.use_limit - taken.uses if taken.use_limit is not None else None
                return Decision(
                    decision="permit",
                    decision_id=new_id("dec"),
                    consent_id=outcome.id,
                    artefact_version=taken.version,
                    covered_items=[item for item in body.items if item in outcome.consent_items],
                    purpose=body.purpose,
                    legal_basis="consent",
                    rule_id=None,
                    detail=None,
                    valid_until=outcome.expires_at,
                    data_life_until=at + timedelta(seconds=outcome.data_life_seconds),
                    uses_remaining=remaining,
                )
        return self._deny(body, Refusal("SG-CONSENT-1", "The consent changed while this decision was taken."))

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
