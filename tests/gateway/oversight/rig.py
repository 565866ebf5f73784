"""For the people-and-oversight tests that need the whole edge (tests/gateway/conftest.py: real identity and consent
behind the gateway): the suite's own `gateway` fixture (the key the services trust), which the flat oversight tests
replace with a gateway of their own; and what those tests read back."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import text

from services.common.clock import FrozenClock
from services.common.keys import SigningKey
from tests.conftest import Gateway
from tests.gateway.conftest import Edge
from tests.gateway.edge import as_caller


@pytest.fixture
def gateway(clock: FrozenClock) -> Gateway:
    return Gateway(SigningKey.generate(), clock)


def citizen(sub: str) -> dict[str, str]:
    return as_caller(f"citizen:{sub}")


async def inbox(edge: Edge, sub: str, kind: str | None = None) -> list[dict[str, Any]]:
    """The person's notices, read as the person through the gateway, newest first."""
    response = await edge.client.get("/identity/v1/me/notifications", headers=citizen(sub))
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return [n for n in items if kind is None or n["kind"] == kind]


async def outbox(edge: Edge, subject: str) -> list[Any]:
    """The payloads the gateway's outbox holds for `subject` (what oversight's systems would be told)."""
    async with edge.app.state.engine.connect() as conn:
        rows = await conn.execute(text("SELECT payload FROM outbox WHERE subject = :s"), {"s": subject})
        return [json.loads(row[0]) if isinstance(row[0], str) else row[0] for row in rows]
