"""One injectable clock: expiry, SLA and retention logic asks it for the time, and tests move it instead of sleeping."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Protocol

from pydantic import AfterValidator, AwareDatetime


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that stands still until a test moves it."""

    def __init__(self, at: datetime | None = None) -> None:
        self._now = at or datetime(2026, 1, 1, tzinfo=UTC)
        if self._now.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")

    def now(self) -> datetime:
        return self._now

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        self._now += delta if delta is not None else timedelta(**kwargs)
        return self._now

    def set(self, at: datetime) -> None:
        self._now = at


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything we store is UTC, so say so."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


# The instants a request may carry. Every datetime a caller sends goes through `Instant`: it must carry a UTC offset,
# it is converted to UTC once at the edge (so no later comparison, column bind or signed record converts it again),
# and it must lie in a range with room for the durations the services add to it (a deadline, a data life, a grace
# period). Without the bound, 9999-12-31T23:00:00-05:00 is a valid ISO 8601 instant whose UTC form is in year 10000:
# Python cannot represent it, and every service that stored or offset one answered 500.
EARLIEST_INSTANT = datetime(1900, 1, 1, tzinfo=UTC)
LATEST_INSTANT = datetime(9000, 1, 1, tzinfo=UTC)


def instant_in_utc(value: datetime) -> datetime:
    """`value` (timezone-aware) in UTC, or ValueError if it lies outside the instants the services store. `Instant`
    runs it at the edge; a service that checks its own times (to name a rule) calls it directly."""
    try:
        utc = value.astimezone(UTC)
    except OverflowError:
        utc = None
    if utc is None or not EARLIEST_INSTANT <= utc < LATEST_INSTANT:
        raise ValueError(
            f"must lie between {EARLIEST_INSTANT:%Y-%m-%d} and {LATEST_INSTANT:%Y-%m-%d} in UTC, once its offset "
            "is applied"
        )
    return utc


Instant = Annotated[AwareDatetime, AfterValidator(instant_in_utc)]
"""A timezone-aware instant from a caller, checked to be in range and handed to the service in UTC."""
