"""Every select of the authentication domain (and the one person look-up by UIN index it needs)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Select, and_, bindparam, func, or_, select, update

from services.common.paging import PageRequest
from services.common.repository import Repository
from services.identity.authn.models import (
    NOT_A_GUESS_SUFFIXES,
    PROVING_FACTORS,
    AuthEvent,
    ChallengeStatus,
    Factor,
    OtpChallenge,
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
            AuthEvent.factor.in_(PROVING_FACTORS),  # a success that proves the person now (not a bearer QR)
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
        # Refused before any check (the person locked the factor, or a guess limit held): not a guess.
        *(AuthEvent.reason.not_like(f"%{suffix}") for suffix in NOT_A_GUESS_SUFFIXES),
        AuthEvent.id > func.coalesce(last_success, ""),
    )


# Built once (with bound parameters) rather than per request: see the persons repository.
_FAILURES_SINCE_LAST_SUCCESS = _failures_since_last_success()
_FAILURES_AT_CLIENT_SINCE_LAST_SUCCESS = _FAILURES_SINCE_LAST_SUCCESS.where(
    AuthEvent.client_id == bindparam("client_id")
)
_FAILURES_IN_WINDOW = _FAILURES_SINCE_LAST_SUCCESS.where(AuthEvent.occurred_at > bindparam("since")).with_only_columns(
    func.count(), func.min(AuthEvent.occurred_at)
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

    async def failures_in_window(self, person_id: str, factor: Factor, since: datetime) -> tuple[int, datetime | None]:
        """Failures with `factor` through every client after `since` (and since the person last proved themselves),
        and when the oldest of them happened."""
        parameters = {
            "person_id": person_id,
            "factor": factor.value,
            "assisted_reasons": f"assisted.{factor.value}.%",
            "since": since,
        }
        count, oldest = (await self.session.execute(_FAILURES_IN_WINDOW, parameters)).one()
        return int(count or 0), oldest

    async def otp_sends_since(
        self, person_id: str, since: datetime, *, client_id: str | None = None
    ) -> tuple[int, datetime | None]:
        """One-time codes sent to the person after `since` (for one client, or for all), and the oldest's time."""
        statement = select(func.count(), func.min(OtpChallenge.created_at)).where(
            OtpChallenge.person_id == person_id, OtpChallenge.created_at > since
        )
        if client_id is not None:
            statement = statement.where(OtpChallenge.client_id == client_id)
        count, oldest = (await self.session.execute(statement)).one()
        return int(count or 0), oldest

    async def history(self, person_id: str, paging: PageRequest) -> Sequence[AuthEvent]:
        """A page of a person's auth events, newest first (ids are time-ordered)."""
        statement = select(AuthEvent).where(AuthEvent.person_id == person_id)
        return await self.page(statement, paging, order_by=AuthEvent.id, descending=True)
