"""The composition root's list of services: how to build each one and where its migrations live."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from gateway import app as gateway_app
from gateway.config import GatewaySettings
from services.common.settings import ServiceSettings
from services.consent import app as consent_app
from services.consent.config import ConsentSettings
from services.exchange import app as exchange_app
from services.exchange.config import ExchangeSettings
from services.identity import app as identity_app
from services.identity.config import IdentitySettings
from services.payments import app as payments_app
from services.payments.config import PaymentsSettings

GATEWAY_MIGRATIONS = Path(gateway_app.__file__).parent / "migrations"


@dataclass(frozen=True)
class ServiceEntry:
    name: str
    settings_class: type[ServiceSettings]
    factory: Callable[..., FastAPI]
    migrations_dir: Path
    factory_path: str  # for uvicorn --factory in multi-process mode


SERVICES: tuple[ServiceEntry, ...] = (
    ServiceEntry("identity", IdentitySettings, identity_app.create_app, identity_app.MIGRATIONS_DIR,
                 "services.identity.app:create_app"),
    ServiceEntry("payments", PaymentsSettings, payments_app.create_app, payments_app.MIGRATIONS_DIR,
                 "services.payments.app:create_app"),
    ServiceEntry("consent", ConsentSettings, consent_app.create_app, consent_app.MIGRATIONS_DIR,
                 "services.consent.app:create_app"),
    ServiceEntry("exchange", ExchangeSettings, exchange_app.create_app, exchange_app.MIGRATIONS_DIR,
                 "services.exchange.app:create_app"),
)  # fmt: skip
GATEWAY = ServiceEntry("gateway", GatewaySettings, gateway_app.create_app, GATEWAY_MIGRATIONS, "gateway.app:create_app")
ALL = (GATEWAY, *SERVICES)


def entry(name: str) -> ServiceEntry:
    for candidate in ALL:
        if candidate.name == name:
            return candidate
    raise KeyError(f"unknown service {name!r}; known: {', '.join(e.name for e in ALL)}")


def settings_for(name: str, **overrides: Any) -> ServiceSettings:
    """Settings from the environment (DPI_<SERVICE>_*), with explicit overrides on top."""
    return entry(name).settings_class(**overrides)
