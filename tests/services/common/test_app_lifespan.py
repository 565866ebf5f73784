"""create_service_app opens nothing: the database, the replay store and the JWKS client are opened in the lifespan
(open_resources), a database that does not answer stops the start with a message naming it, and every handle is
gone again once the lifespan ends."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import text

from services.common.app import ServiceStartupError, open_resources, service_state
from services.common.settings import ReplayStore
from services.consent.app import create_app as create_consent
from services.consent.config import ConsentSettings
from services.identity.app import create_app as create_identity
from services.identity.config import IdentitySettings
from services.payments.app import create_app as create_payments
from services.payments.config import PaymentsSettings


def _identity(tmp_path: Path, **values: object) -> IdentitySettings:
    database = {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'db' / 'identity.db'}"}
    return IdentitySettings(
        _env_file=None, var_dir=tmp_path, replay_store=ReplayStore.database, **{**database, **values}
    )  # type: ignore[arg-type]


async def test_the_factory_opens_nothing_and_the_lifespan_opens_and_closes_the_database(tmp_path: Path) -> None:
    app = create_identity(_identity(tmp_path))
    state = service_state(app)
    assert not (tmp_path / "db" / "identity.db").exists(), "the factory touched the database"
    with pytest.raises(AttributeError, match="lifespan"):
        _ = state.engine
    async with app.router.lifespan_context(app):
        assert (tmp_path / "db" / "identity.db").exists()
        async with state.sessionmaker() as session:
            assert (await session.execute(text("SELECT 1"))).scalar_one() == 1
        assert state.verifier is not None and state.idempotency is not None and state.relay is not None
    for handle in ("engine", "sessionmaker", "verifier", "replay_guard", "idempotency"):
        with pytest.raises(AttributeError, match="lifespan"):
            getattr(state, handle)


async def test_a_service_that_cannot_reach_its_database_does_not_start_and_says_why(tmp_path: Path) -> None:
    settings = _identity(tmp_path, database_url="postgresql+asyncpg://sandbox:s3cret-pw@127.0.0.1:1/nowhere")
    app = create_identity(settings)
    with pytest.raises(ServiceStartupError) as refused:
        async with app.router.lifespan_context(app):
            pytest.fail("the service started without its database")
    message = str(refused.value)
    assert "identity service cannot reach its database" in message
    assert "127.0.0.1:1/nowhere" in message and "DPI_IDENTITY_DATABASE_URL" in message
    assert "s3cret-pw" not in message, "the database password is never in the message"
    with pytest.raises(AttributeError, match="lifespan"):
        _ = service_state(app).engine


async def test_a_password_in_the_database_urls_query_is_not_in_the_message_either(tmp_path: Path) -> None:
    url = "postgresql+asyncpg://sandbox@127.0.0.1:1/nowhere?password=s3cret-pw&host=127.0.0.1"
    app = create_identity(_identity(tmp_path, database_url=url))
    with pytest.raises(ServiceStartupError) as refused:
        async with app.router.lifespan_context(app):
            pytest.fail("the service started without its database")
    message = str(refused.value)
    assert "127.0.0.1:1/nowhere?host=127.0.0.1" in message
    assert "s3cret-pw" not in message, "the database password is never in the message"


async def test_a_tool_opens_the_database_and_the_services_runtime_without_starting_the_app(tmp_path: Path) -> None:
    """The seed, the CLI and the benchmarks need a service's database and runtime, not its bus, relay or timers."""
    payments = create_payments(
        PaymentsSettings(_env_file=None, var_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'p.db'}")
    )
    consent = create_consent(
        ConsentSettings(_env_file=None, var_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{tmp_path / 'c.db'}")
    )
    for app, runtime in ((payments, "payments"), (consent, "consent")):
        async with open_resources(app) as state:
            assert getattr(state, runtime).engine is state.engine  # the service's runtime, on the opened engine
            with pytest.raises(AttributeError, match="lifespan"):
                _ = state.relay
        with pytest.raises(AttributeError, match="lifespan"):
            _ = state.engine
