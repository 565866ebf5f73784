from __future__ import annotations

from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings

UPSTREAM_NAMES = ("identity", "payments", "consent", "exchange")


class GatewaySettings(ServiceSettings):
    service_name: ClassVar[str] = "gateway"
    model_config = SettingsConfigDict(env_prefix="DPI_GATEWAY_", env_file=".env", extra="ignore")

    identity_url: str = Field(default="http://127.0.0.1:8001", description="Where the identity service listens.")
    payments_url: str = "http://127.0.0.1:8002"
    consent_url: str = "http://127.0.0.1:8003"
    exchange_url: str = "http://127.0.0.1:8004"

    purpose_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long the gateway keeps a purpose read from the registry (SG-PURPOSE-1): a suspension takes "
        "effect within this time. Person references and consent decisions are never cached. Sandbox configuration.",
    )

    def upstream_urls(self) -> dict[str, str]:
        return {name: getattr(self, f"{name}_url") for name in UPSTREAM_NAMES}
