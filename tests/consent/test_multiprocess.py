"""Revocation reaches every process at once: two consent processes over real HTTP, one revokes, the other decides.

Nothing in the consent service caches an artefact, so the decision asked of the second process right after the
first committed the revocation already denies with SG-CONSENT-4 (acceptance 2, multi-process mode).
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

from services.common.clock import SystemClock
from services.common.db import create_engine
from services.common.keys import SigningKey
from services.common.migrations import upgrade_service_database
from services.consent.app import MIGRATIONS_DIR
from services.consent.config import ConsentSettings
from tests.conftest import Gateway
from tests.consent.consent_helpers import purpose_body

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def consent_process(env: dict[str, str], log: Path) -> Iterator[str]:
    port = _free_port()
    command = [sys.executable, "-m", "uvicorn", "--factory", "services.consent.app:create_app", "--host", "127.0.0.1",
               "--port", str(port), "--no-access-log", "--log-level", "warning"]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env}, stdout=output, stderr=output)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()[-3000:]
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            assert time.monotonic() < deadline, "the consent process did not start in 60 s"
            time.sleep(0.2)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


async def test_a_revocation_in_one_process_denies_the_next_decision_in_another(database_url, tmp_path):
    gateway = Gateway(SigningKey.generate(), SystemClock())  # type: ignore[arg-type]
    keys = tmp_path / "keys"
    keys.mkdir()
    (keys / "gateway.jwks.json").write_text(json.dumps(gateway.jwks))
    schema = f"t_{uuid.uuid4().hex[:16]}_consent"
    url = f"sqlite+aiosqlite:///{tmp_path / 'consent.db'}" if database_url == "sqlite" else database_url
    settings = ConsentSettings(_env_file=None, var_dir=tmp_path, database_url=url, database_schema=schema)
    await upgrade_service_database(settings, MIGRATIONS_DIR)
    env = {"DPI_CONSENT_VAR_DIR": str(tmp_path), "DPI_CONSENT_DATABASE_URL": url, "DPI_CONSENT_DATABASE_SCHEMA": schema,
           "DPI_CONSENT_REPLAY_STORE": "database", "DPI_CONSENT_EXPIRY_INTERVAL_SECONDS": "0"}  # fmt: skip

    def call(base: str, method: str, path: str, roles: tuple[str, ...], body: object = None, **context: str) -> dict:  # type: ignore[type-arg]
        headers = gateway.headers("consent", roles=roles, **context)
        response = httpx.request(method, base + path, json=body, headers=headers, timeout=10)
        assert response.status_code in (200, 201), response.text
        return response.json()  # type: ignore[no-any-return]

    try:
        with consent_process(env, tmp_path / "a.log") as first, consent_process(env, tmp_path / "b.log") as second:
            purpose = purpose_body("CASH")
            call(first, "POST", "/v1/purposes", ("purpose_admin",), purpose, client_id="registry-admin")
            approval = {"dpia_ref": purpose["dpia_ref"], "hria_ref": purpose["hria_ref"]}
            call(first, "POST", "/v1/purposes/CASH/approval", ("oversight",), approval, client_id="oversight")
            question = {"requester": "rp-a", "subject": "sub_amara", "purpose": "CASH", "items": ["household_size"]}
            for _round in range(5):
                artefact = {
                    "subject": "sub_amara", "purpose": "CASH", "data_items": ["household_size"],
                    "expires_at": (SystemClock().now() + timedelta(days=10)).isoformat(),
                    "data_life": {"unit": "day", "value": 1}, "jurisdiction": ["XS"], "revoke_url": "/me/consents",
                    "grievance_url": "/me/grievances",
                }  # fmt: skip
                consent = call(first, "POST", "/v1/consents", ("relying_party",), artefact, client_id="rp-a")
                me = {"client_id": "citizen-app", "subject_ref": "sub_amara"}
                call(first, "POST", f"/v1/me/consents/{consent['id']}/grant", ("subject",), **me)
                permit = call(second, "POST", "/v1/decisions", ("gateway",), question, client_id="dpi-gateway")
                assert (permit["decision"], permit["consent_id"]) == ("permit", consent["id"])

                call(first, "POST", f"/v1/me/consents/{consent['id']}/revoke", ("subject",), **me)
                deny = call(second, "POST", "/v1/decisions", ("gateway",), question, client_id="dpi-gateway")
                assert (deny["decision"], deny["rule_id"], deny["consent_id"]) == (
                    "deny",
                    "SG-CONSENT-4",
                    consent["id"],
                )
    finally:
        if database_url != "sqlite":
            engine = create_engine(database_url)
            async with engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await engine.dispose()
