"""The gateway calls identity through IdentityClient in both single-host modes: embedded (one process, the services
behind in-process transports) and multi-process (`dpi-sandbox up --processes`, identity on its own port)."""

from __future__ import annotations

import asyncio
import signal
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest

from dpi_sandbox.embedded import all_settings, build_embedded, upgrade_all
from services.common.assertion import ASSERTION_HEADER, AssertionMinter, CallContext
from services.common.clock import SystemClock
from services.common.keys import load_or_create_signing_key
from services.identity.client import IdentityClient, ReferenceType, SubjectReference
from tests.dpi_sandbox.test_commands import start_processes, wait_healthy
from tests.identity.identity_helpers import another_person


async def _round_trip(identity: IdentityClient, http: httpx.AsyncClient, minter: AssertionMinter) -> None:
    """Enrol (registrar), then sub -> a relying party's token -> sub, all with the gateway's own assertions."""
    registrar = minter.mint("identity", CallContext(client_id="registry-office", roles=("registrar",)))
    enrolled = await http.post("/v1/enrolments", json=another_person(), headers={ASSERTION_HEADER: registrar})
    assert enrolled.status_code == 201, enrolled.text
    sub = enrolled.json()["sub"]

    def internal() -> str:
        return minter.mint("identity", CallContext(client_id="dpi-gateway", roles=("gateway_internal",)))

    token = await identity.pairwise_token(sub, "rp-clinic", assertion=internal())
    reference = SubjectReference(type=ReferenceType.pairwise_token, value=token.token, relying_party_id="rp-clinic")
    assert (await identity.resolve_subject(reference, assertion=internal())).sub == sub


async def test_embedded_the_gateways_own_identity_client_reaches_identity(tmp_path: Path) -> None:
    await upgrade_all(all_settings(tmp_path))
    app = build_embedded(var_dir=tmp_path)
    async with app.router.lifespan_context(app):
        facts: Any = app.state.proxy.facts
        identity: IdentityClient = facts.identity  # the client the gateway's proxy uses to translate references
        minter = AssertionMinter(app.state.signing_key, SystemClock())
        await _round_trip(identity, identity._http, minter)
        assert (await identity.health())["service"] == "identity"


async def _over_http(identity_url: str, minter: AssertionMinter) -> None:
    identity = IdentityClient.connect(identity_url)
    try:
        await _round_trip(identity, identity._http, minter)
    finally:
        await identity.aclose()


@pytest.mark.slow
def test_multi_process_identity_client_over_http_to_the_identity_process(tmp_path: Path) -> None:
    supervisor, ports = start_processes(tmp_path)
    try:
        wait_healthy(supervisor, f"http://127.0.0.1:{ports[0]}", 90)
        # The gateway process's key, as written under the var dir: the identity process trusts exactly it.
        minter = AssertionMinter(load_or_create_signing_key(tmp_path / "keys", "gateway"), SystemClock())
        asyncio.run(_over_http(f"http://127.0.0.1:{ports[1]}", minter))
    finally:
        supervisor.send_signal(signal.SIGINT)
        try:
            supervisor.wait(timeout=30)
        except subprocess.TimeoutExpired:
            supervisor.kill()
