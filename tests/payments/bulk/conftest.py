"""A funded programme account for the bulk tests."""

from __future__ import annotations

import pytest

from tests.payments.bulk.bulk_helpers import PROGRAMME_CLIENT


@pytest.fixture
async def programme(api) -> dict:  # type: ignore[no-untyped-def,type-arg]
    account = await api.open_account("central-bank", kind="programme", owner=PROGRAMME_CLIENT, address="prog-social")
    await api.fund(account["id"], "1000.00")
    return account  # type: ignore[no-any-return]
