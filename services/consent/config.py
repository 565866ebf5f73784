from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class ConsentSettings(ServiceSettings):
    service_name: ClassVar[str] = "consent"
    model_config = SettingsConfigDict(env_prefix="DPI_CONSENT_", env_file=".env", extra="ignore")
