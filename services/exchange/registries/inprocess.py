"""The registries' record reads, answered in the exchange's own process when the registries run inside it.

Every fetch through the exchange asks a provider for one record. Over HTTP that is a second full request (a client
building it, an ASGI app routing it, dependencies resolved, the answer serialised and parsed again), which cost the
exchange more CPU than the provider's own work. Here the same provider answers without it: it checks the exchange's
signature on the request with its own verifier (its access check), reads its own tables through its own read
sessions and service code, and answers the same record, or its problem+json with the same status. What this path
does not recognise as a record read in the routers' own terms (another path, a subject the routers' pattern refuses,
too many fields) returns None, and the caller sends it over HTTP as before, so the routers' answers to odd input stay
the only answers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common.problems import ProblemError
from services.exchange.registries.civil.service import civil
from services.exchange.registries.credential import ExchangeRequest
from services.exchange.registries.deps import RegistryRuntime
from services.exchange.registries.schemas import MAX_FIELDS, SUBJECT_PATTERN, ProviderRecord
from services.exchange.registries.social.service import social

Reader = Callable[[AsyncSession, ExchangeRequest, str, list[str], RegistryRuntime], Awaitable[ProviderRecord]]

_SUBJECT = re.compile(SUBJECT_PATTERN)


async def _civil_person(
    session: AsyncSession, request: ExchangeRequest, sub: str, fields: list[str], rt: RegistryRuntime
) -> ProviderRecord:
    return await civil.record(session, request, sub, fields)


async def _social_household(
    session: AsyncSession, request: ExchangeRequest, sub: str, fields: list[str], rt: RegistryRuntime
) -> ProviderRecord:
    return await social.record(session, request, sub, fields, rt=rt)


# The routers' record reads (civil/router.py person_record, social/router.py household_record), by path.
READS: tuple[tuple[re.Pattern[str], Reader], ...] = (
    (re.compile(r"/civil/v1/persons/(?P<subject>[^/]+)"), _civil_person),
    (re.compile(r"/social/v1/persons/(?P<subject>[^/]+)/household"), _social_household),
)


@dataclass(frozen=True)
class Answer:
    status: int
    content: bytes


class InProcessReads:
    def __init__(self, runtime: RegistryRuntime) -> None:
        self._rt = runtime

    async def get(self, path: str, credential: str, fields: Sequence[str]) -> Answer | None:
        """The provider's answer to `GET path?fields=...` under `credential`, or None if this path does not serve it."""
        if len(fields) > MAX_FIELDS:
            return None
        for pattern, reader in READS:
            match = pattern.fullmatch(path)
            if match is not None and _SUBJECT.fullmatch(subject := match["subject"]):
                return await self._answer(reader, path, subject, credential, list(fields))
        return None

    async def _answer(self, reader: Reader, path: str, subject: str, credential: str, fields: list[str]) -> Answer:
        try:
            request = self._rt.verifier.verify(credential)
            async with self._rt.read_sessions() as session:
                record = await reader(session, request, subject, fields, self._rt)
        except ProblemError as error:
            return Answer(error.status, _json(error.to_problem(instance=path)))
        return Answer(200, record.model_dump_json().encode())


def _json(body: dict[str, Any]) -> bytes:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
