"""Trusted callers for service-level tests: say who is calling without minting and replay-checking a real assertion.

Most tests are about what a service does for a given caller, not about the gateway assertion; those send
`X-Gateway-Assertion: test:<json CallContext>` and the app's verifier, swapped for `TrustedCallers`, takes the
context as given (no signature, no replay store round trip). A real assertion is still verified by the real
verifier, so one end-to-end test per service (tests/services/common/test_assertion.py) keeps proving that path.

    trust_test_callers(svc.app)
    headers = caller_headers(client_id="rp-1", roles=("relying_party",))
    response = await svc.client.post("/v1/authn", json=body, headers=headers)
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from fastapi import FastAPI

from services.common.assertion import ASSERTION_HEADER, CallContext, Caller
from services.common.ids import new_id
from services.common.problems import Unauthenticated

PREFIX = "test:"


def caller_headers(**context: Any) -> dict[str, str]:
    """The header naming a trusted test caller (fields of CallContext; client_id defaults to test-client)."""
    context.setdefault("client_id", "test-client")
    return {ASSERTION_HEADER: PREFIX + CallContext(**context).model_dump_json(exclude_none=True)}


def trusted_context(header: str) -> dict[str, Any] | None:
    """The context inside a trusted-caller header, or None for anything else (a real assertion)."""
    if not header.startswith(PREFIX):
        return None
    context: dict[str, Any] = json.loads(header[len(PREFIX) :])
    return context


class TrustedCallers:
    """The app's verifier in tests: trusted-caller headers pass as given, real assertions go to the real verifier."""

    def __init__(self, app: FastAPI) -> None:
        self._real = app.state.verifier
        self._clock = app.state.clock
        self._trusted: set[str] = set()  # the assertion ids given to trusted callers, not yet claimed

    async def verify(self, token: str | None) -> Caller:
        caller = await self.authenticate(token)
        await self.claim(caller)
        return caller

    async def authenticate(self, token: str | None) -> Caller:
        context = trusted_context(token) if token else None
        if context is None:
            real: Caller = await self._real.authenticate(token)
            return real
        try:
            expires_at = self._clock.now() + timedelta(seconds=60)
            caller = Caller(**context, assertion_id=new_id("test"), expires_at=expires_at)
        except ValueError:
            raise Unauthenticated("The test caller header is malformed.") from None
        self._trusted.add(caller.assertion_id)
        return caller

    async def claim(self, caller: Caller) -> None:
        if caller.assertion_id in self._trusted:  # a trusted caller: no replay store round trip
            self._trusted.discard(caller.assertion_id)
            return
        await self._real.claim(caller)  # a real assertion: the real replay check


def trust_test_callers(app: FastAPI) -> None:
    app.state.verifier = TrustedCallers(app)
