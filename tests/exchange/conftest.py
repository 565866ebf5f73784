"""Fixtures for the exchange tests: the service (with its simulated registries) and an API helper bound to it."""

from __future__ import annotations

import pytest

from tests.exchange.exchange_helpers import ExchangeApi


@pytest.fixture
async def exchange(service_factory):  # type: ignore[no-untyped-def]
    return await service_factory("exchange")


@pytest.fixture
def api(exchange, gateway) -> ExchangeApi:  # type: ignore[no-untyped-def]
    return ExchangeApi(exchange, gateway)
