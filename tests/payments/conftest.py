"""Fixtures for the payments tests: the service on a fresh database (the simulated network seeded) and its API."""

from __future__ import annotations

import pytest

from tests.payments.payments_helpers import PaymentsApi


@pytest.fixture
async def payments(service_factory):  # type: ignore[no-untyped-def]
    return await service_factory("payments", expiry_interval_seconds=0, bulk_interval_seconds=0)


@pytest.fixture
def api(payments, gateway) -> PaymentsApi:  # type: ignore[no-untyped-def]
    return PaymentsApi(payments, gateway)
