"""Payments settings: the simulated network's currency, transfer and quote timings, fees, bulk job sizes."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    service_name: ClassVar[str] = "payments"
    model_config = SettingsConfigDict(env_prefix="DPI_PAYMENTS_", env_file=".env", extra="ignore")

    seed_simulated_network: bool = Field(
        default=True,
        description="At start-up, create the SIMULATED network if missing: a central settlement bank, two banks "
        "and a mobile-money operator, each with its settlement and fee accounts.",
    )
    network_currency: str = Field(
        default="USD", pattern=r"^[A-Z]{3}$", description="ISO 4217 currency of the simulated network's accounts."
    )
    quote_validity_seconds: int = Field(default=60, ge=1, le=86_400, description="How long a quote can be used.")
    transfer_timeout_seconds: int = Field(
        default=30,
        ge=1,
        le=86_400,
        description="Longest a prepared transfer may hold reserved funds before it expires and they are released.",
    )
    fee_basis_points: int = Field(
        default=50, ge=0, le=10_000, description="The payer FSP's fee on a quoted transfer, in 1/100 of a percent."
    )
    fee_minimum_minor: int = Field(default=1, ge=0, description="The smallest fee on a quoted transfer (minor units).")
    expiry_interval_seconds: float = Field(
        default=1.0, ge=0, le=3600, description="How often expired reservations are released; 0 turns the timer off."
    )
    bulk_chunk_size: int | None = Field(
        default=None, ge=1, le=100_000,
        description="Items a bulk job resolves and pays per database transaction; unset: 20,000 on PostgreSQL, "
        "5,000 on SQLite (whose single writer holds every other write back while a chunk runs).",
    )  # fmt: skip
    bulk_interval_seconds: float = Field(
        default=0.5, ge=0, le=3600, description="How often the bulk worker looks for batches to run; 0: never."
    )
    bulk_max_items: int = Field(default=1_000_000, ge=1, description="The largest batch accepted in one request.")
