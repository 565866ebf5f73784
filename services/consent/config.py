"""Consent settings: the approved processing jurisdictions, the retention grace and the expiry timer.

The numbers are sandbox configuration, not framework mandates.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field, StringConstraints
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings

Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class ConsentSettings(ServiceSettings):
    service_name: ClassVar[str] = "consent"
    model_config = SettingsConfigDict(env_prefix="DPI_CONSENT_", env_file=".env", extra="ignore")

    approved_jurisdictions: list[Country] = Field(
        default_factory=lambda: ["XS"],
        max_length=250,
        description="Where requesters may process personal data without a transfer basis (SG-XBORDER-1), as ISO "
        "3166-1 alpha-2 codes. XS, a user-assigned code, stands for the sandbox's own country.",
    )
    revocation_grace_seconds: int = Field(
        default=86_400,
        ge=0,
        le=30 * 86_400,
        description="After a revocation, how long a requester may still hold data obtained under the consent before "
        "the exchange purges it (SG-RETAIN-1): the revoked event's data_life_until is the revocation time plus this.",
    )
    expiry_interval_seconds: float = Field(
        default=60,
        ge=0,
        le=86_400,
        description="How often each process marks granted consents past their end of validity `expired` and "
        "announces it (SG-CONSENT-5); 0 turns the timer off. Decisions never wait for it: an artefact past its "
        "expiry is refused at once.",
    )
    decision_clock_skew_seconds: int = Field(
        default=300,
        ge=0,
        le=3600,
        description="How far a decision's `at` may lie from the service's clock (the gateway's clock may differ).",
    )
