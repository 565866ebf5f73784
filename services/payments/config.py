from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    service_name: ClassVar[str] = "payments"
    model_config = SettingsConfigDict(env_prefix="DPI_PAYMENTS_", env_file=".env", extra="ignore")
