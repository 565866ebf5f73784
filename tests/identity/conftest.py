"""Fixtures for the identity tests: the service on a fresh database and an API helper bound to it."""

from __future__ import annotations

import pytest

from tests.identity.identity_helpers import IdentityApi


@pytest.fixture
async def identity(service_factory):  # type: ignore[no-untyped-def]
    return await service_factory("identity")


@pytest.fixture
def api(identity, gateway) -> IdentityApi:  # type: ignore[no-untyped-def]
    return IdentityApi(identity, gateway)
