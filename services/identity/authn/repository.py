"""Every select of the authentication domain (and the one person look-up by UIN index it needs)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, bindparam, func, or_, select, update

from services.common.paging import PageRequest
from services.common.repository import Repository
from services.identity.authn.models import (
    AuthEvent,
    ChallengeStatus,
    Factor,
    OtpChallenge,
    PersonFactor,
    PinCredential,
    Result,
)
from services.identity.persons.models import Person


def _failures_since_last_success() -> Select[int]:
    last_success = (
        select(func.max(AuthEvent.id))
        .where(
            AuthEvent.person_id == bindparam("person_id"),
            AuthEvent.result == Result.success.value,
            AuthEvent.factor.in_([f.value for f in PersonFactor]),  # a success that proves the person
        )
        .scalar_subquery()
    )
    # A PIN or OTP given as the person's confirmation of an assisted authentication counts as that factor.
    same_factor = or_(
        AuthEvent.factor == bindparam("factor"),
        and_(AuthEvent.factor == Factor.assisted.value, AuthEvent.reason.like(bindparam("assisted_reasons"))),
    )
    return select(func.count()).where(
        AuthEvent.person_id == bindparam("person_id"),
        same_factor,
        AuthEvent.result == Result.failure.value,
        # Refused before any check because the person locked the factor: not a guess, so not a failure of it.
        AuthEvent.reason.not_like("%.locked"),
        AuthEvent.id > func.coalesce(last_success, ""),
    )


# Built once (with bound parameters) rather than per request: see the persons repository.
_FAILURES_SINCE_LAST_SUCCESS = _failures_since_last_success()
_FAILURES_AT_CLIENT_SINCE_LAST_SUCCESS = _FAILURES_SINCE_LAST_SUCCESS.where(
    AuthEvent.client_id == bindparam("client_id")
)


class AuthnRepository(Repository[AuthEvent]):
    model = AuthEvent

    async def person_by_uin_index(self, uin_index: str) -> Person | None:
        # The persons repository has no look-up by UIN (only "is it taken"); read-only use of its model.
        return (await self.session.scalars(select(Person).where(Person.uin_index == uin_index))).one_or_none()

    async def active_challenge(self, person_id: str, client_id: str, scope: str) -> OtpChallenge | None:
        """The one live code for this person, client and scope, locked so that two guesses cannot race."""
        statement = (
            select(OtpChallenge)
            .where(
                OtpChallenge.person_id == person_id,
                OtpChallenge.client_id == client_id,
                OtpChallenge.scope == scope,
                OtpChallenge.status == ChallengeStatus.active,
            )
            .order_by(OtpChallenge.id.desc())
            .limit(1)
            .with_for_update()
        )
        return (await self.session.scalars(statement)).one_or_none()

    async def supersede_challenges(self, person_id: str, client_id: str, scope: str, now: datetime) -> None:
        await self.session.execute(
            update(OtpChallenge)
            .where(
                OtpChallenge.person_id == person_id,
                OtpChallenge.client_id == client_id,
                OtpChallenge.scope == scope,
                OtpChallenge.status == ChallengeStatus.active,
            )
            .values(status=ChallengeStatus.superseded, closed_at=now)
        )

    async def pin(self, person_id: str) -> PinCredential | None:
        return await self.session.get(PinCredential, person_id)

    async def failures_since_last_success(self, person_id: str, factor: Factor) -> int:
        """Failures with `factor` since the person last authenticated with any factor: derived, never stored."""
        parameters = {"person_id": person_id, "factor": factor.value, "assisted_reasons": f"assisted.{factor.value}.%"}
        return int(await self.session.scalar(_FAILURES_SINCE_LAST_SUCCESS, parameters) or 0)

    async def failures_at_client_since_last_success(self, person_id: str, factor: Factor, client_id: str) -> int:
        """Failures with `factor` through `client_id` since the person last authenticated anywhere, with any factor."""
        parameters = {
            "person_id": person_id,
            "factor": factor.value,
            "assisted_reasons": f"assisted.{factor.value}.%",
            "client_id": client_id,
        }
        return int(await self.session.scalar(_FAILURES_AT_CLIENT_SINCE_LAST_SUCCESS, parameters) or 0)

    async def history(self, person_id: str, paging: PageRequest) -> Sequence[AuthEvent]:
        """A page of a person's auth events, newest first (ids are time-ordered)."""
        statement = select(AuthEvent).where(AuthEvent.person_id == person_id)
        return await self.page(statement, paging, order_by=AuthEvent.id, descending=True)
