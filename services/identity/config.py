from __future__ import annotations

from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings


class IdentitySettings(ServiceSettings):
    service_name: ClassVar[str] = "identity"
    model_config = SettingsConfigDict(env_prefix="DPI_IDENTITY_", env_file=".env", extra="ignore")
