"""Embedded mode: the whole sandbox in one process; the gateway reaches each service through httpx.ASGITransport."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import FastAPI

from dpi_sandbox.registry import GATEWAY, SERVICES, ServiceEntry, settings_for
from services.common.assertion import StaticJwks
from services.common.bus import Bus, InProcessBus
from services.common.clock import Clock, SystemClock
from services.common.keys import load_or_create_signing_key
from services.common.migrations import upgrade_service_database
from services.common.settings import ReplayStore, ServiceSettings


def embedded_settings(entry: ServiceEntry, var_dir: Path | None, overrides: dict[str, Any] | None) -> ServiceSettings:
    values: dict[str, Any] = {"replay_store": ReplayStore.memory}  # one process: an in-memory replay cache is exact
    if var_dir is not None:
        values["var_dir"] = var_dir
    values.update((overrides or {}).get(entry.name, {}))
    return settings_for(entry.name, **values)


def build_embedded(
    *,
    var_dir: Path | None = None,
    clock: Clock | None = None,
    bus: Bus | None = None,
    overrides: dict[str, dict[str, Any]] | None = None,
    **gateway_runtime: Any,
) -> FastAPI:
    """The gateway app with the four services mounted in-process behind it."""
    clock = clock or SystemClock()
    bus = bus or InProcessBus()
    gateway_settings = embedded_settings(GATEWAY, var_dir, overrides)
    gateway_key = load_or_create_signing_key(gateway_settings.resolved_keys_dir, "gateway")
    services = {
        entry.name: entry.factory(
            embedded_settings(entry, var_dir, overrides),
            clock=clock,
            bus=bus,
            gateway_jwks=StaticJwks(gateway_key.jwks()),
        )
        for entry in SERVICES
    }
    app: FastAPI = GATEWAY.factory(gateway_settings, clock=clock, bus=bus, upstream_apps=services, **gateway_runtime)
    app.state.service_apps = services
    return app


async def upgrade_all(settings_by_service: dict[str, ServiceSettings]) -> None:
    """`dpi-sandbox db upgrade`: apply every service's migrations to its own database."""
    for entry in (GATEWAY, *SERVICES):
        await upgrade_service_database(settings_by_service[entry.name], entry.migrations_dir)


def all_settings(
    var_dir: Path | None = None, overrides: dict[str, dict[str, Any]] | None = None
) -> dict[str, ServiceSettings]:
    return {entry.name: embedded_settings(entry, var_dir, overrides) for entry in (GATEWAY, *SERVICES)}
