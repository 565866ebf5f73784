"""Fixtures for the consent tests: the service on a fresh database and an API helper bound to it."""

from __future__ import annotations

import pytest

from tests.consent.consent_helpers import ConsentApi


@pytest.fixture
async def consent_svc(service_factory):  # type: ignore[no-untyped-def]
    return await service_factory("consent", expiry_interval_seconds=0)


@pytest.fixture
def api(consent_svc, gateway, clock) -> ConsentApi:  # type: ignore[no-untyped-def]
    return ConsentApi(consent_svc, gateway, clock)
