from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class ExchangeSettings(ServiceSettings):
    service_name: ClassVar[str] = "exchange"
    model_config = SettingsConfigDict(env_prefix="DPI_EXCHANGE_", env_file=".env", extra="ignore")
