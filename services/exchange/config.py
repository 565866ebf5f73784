"""Exchange settings: who may process where, how long exchanged payloads are kept, how long a court order may defer
its disclosure. Every number here is sandbox configuration, not a framework mandate."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class ExchangeSettings(ServiceSettings):
    service_name: ClassVar[str] = "exchange"
    model_config = SettingsConfigDict(env_prefix="DPI_EXCHANGE_", env_file=".env", extra="ignore")

    approved_jurisdictions: list[str] = Field(
        default_factory=lambda: ["SB"],
        description="ISO 3166-1 alpha-2 codes where a consumer may process exchanged personal data without a "
        "consent that names its jurisdiction (SG-XBORDER-1). `SB` is the sandbox's own jurisdiction.",
    )
    retention_grace_seconds: int = Field(
        default=24 * 3600,
        ge=0,
        le=30 * 24 * 3600,
        description="After a consent is revoked, how long a stored payload may remain before the purge deletes it "
        "(SG-RETAIN-1).",
    )
    purge_interval_seconds: float = Field(
        default=300,
        ge=0,
        le=86_400,
        description="How often each process purges stored payloads past their retain_until (SG-RETAIN-1); 0 turns "
        "the timer off, leaving POST /v1/stored-payloads/purge as the only way.",
    )
    court_order_max_deferral_days: int = Field(
        default=180,
        ge=1,
        le=3650,
        description="The latest a court order's disclose_after may be, counted from its issue (SG-ACCESS-2).",
    )
    provider_timeout_seconds: float = Field(
        default=5.0, gt=0, le=60, description="How long the exchange waits for a provider's answer."
    )
    registries_url: str | None = Field(
        default=None,
        description="Base URL of the simulated registries (the providers behind the exchange). Default: served "
        "in-process, reached through an in-memory HTTP transport.",
    )
