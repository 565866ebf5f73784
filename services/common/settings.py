"""Settings shared by every service: one env prefix per service (DPI_IDENTITY_, DPI_GATEWAY_, ...)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import ClassVar

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Environment(StrEnum):
    dev = "dev"
    test = "test"
    production = "production"


class BusKind(StrEnum):
    in_process = "in_process"
    nats = "nats"


class ReplayStore(StrEnum):
    """Where a service remembers assertion ids it has accepted (replay protection)."""

    memory = "memory"  # correct only while one process serves the service (embedded, multi-process)
    database = "database"  # correct for any number of replicas: one write transaction per request
    redis = "redis"  # correct for any number of replicas: one Redis round trip per request (distributed)


PLACEHOLDER_SECRETS = {"changethis", "changeme", "secret", "password"}


class ServiceSettings(BaseSettings):
    """Base for every service's settings. Subclasses set `service_name` and `model_config` (the env prefix)."""

    service_name: ClassVar[str] = "service"
    model_config = SettingsConfigDict(env_prefix="DPI_", env_file=".env", extra="ignore")

    environment: Environment = Environment.dev
    var_dir: Path = Path("var")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy async URL; default: a SQLite file under var_dir named after the service.",
    )
    database_schema: str | None = Field(
        default=None,
        description="PostgreSQL schema for this service's tables (default: the service name).",
    )
    database_pool_size: int | None = Field(
        default=None,
        ge=1,
        le=200,
        description="Connections pooled per process; default 1 for SQLite (see db.py) and 10 for PostgreSQL.",
    )
    keys_dir: Path | None = Field(default=None, description="Where signing keys live; default: var_dir/keys.")
    gateway_jwks_url: str | None = Field(
        default=None,
        description="Where to fetch the gateway's JWKS; default: read var_dir/keys/gateway.jwks.json.",
    )
    assertion_leeway_seconds: int = 5
    replay_store: ReplayStore = ReplayStore.database
    redis_url: str = Field(
        default="redis://127.0.0.1:6379/0", description="Redis for the replay store, when replay_store is redis."
    )
    bus: BusKind = BusKind.in_process
    outbox_retention_seconds: int = Field(
        default=7 * 24 * 3600,
        ge=60,
        description="How long a published outbox event is kept (to trace a delivery) before the relay deletes it. "
        "Unpublished events are never deleted. The outbox is not the audit trail.",
    )
    idempotency_retention_seconds: int = Field(
        default=24 * 3600,
        ge=60,
        description="How long a stored Idempotency-Key answer is replayed; after that the key may be used afresh.",
    )
    idempotency_in_flight_seconds: int = Field(
        default=60,
        ge=1,
        description="How long a claimed Idempotency-Key counts as in flight (409 to a retry) before a retry may "
        "take over the claim of a request that never finished.",
    )
    nats_url: str = "nats://127.0.0.1:4222"
    nats_stream: str = Field(
        default="DPI", pattern=r"^[A-Za-z0-9_-]{1,32}$", description="The JetStream stream every app shares."
    )
    nats_prefix: str = Field(
        default="dpi",
        pattern=r"^[a-z0-9_-]{1,32}$",
        description="The subject prefix of the stream (`<prefix>.>`); one sandbox per stream and prefix on a server.",
    )
    max_body_bytes: int = Field(
        default=1_048_576,
        ge=1024,
        le=64 * 1_048_576,
        description="The largest request body this app reads, in bytes; a larger one is refused with 413.",
    )
    log_format: str = Field(default="console", pattern="^(console|json)$")
    log_level: str = "INFO"

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.var_dir / (self.service_name + '.db')}"

    @property
    def resolved_schema(self) -> str:
        return self.database_schema or self.service_name

    @property
    def resolved_keys_dir(self) -> Path:
        return self.keys_dir or self.var_dir / "keys"

    @model_validator(mode="after")
    def _no_placeholder_secrets_outside_dev(self) -> ServiceSettings:
        if self.environment is Environment.production:
            for name, value in self:
                if isinstance(value, SecretStr) and value.get_secret_value().lower() in PLACEHOLDER_SECRETS:
                    raise ValueError(f"{name} is a placeholder; set a real secret for production")
        return self
