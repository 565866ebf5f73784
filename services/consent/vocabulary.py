"""Words the consent service shares across its domains: languages, data items, DPV terms, channels, durations."""

from __future__ import annotations

from datetime import timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class Language(StrEnum):
    """The six official UN languages: every purpose text is written for these."""

    ar = "ar"
    zh = "zh"
    en = "en"
    fr = "fr"
    ru = "ru"
    es = "es"


# The order a missing translation falls back in: English first (the registry's working language), then the rest.
FALLBACK_ORDER: tuple[Language, ...] = (Language.en, Language.fr, Language.es, Language.ar, Language.ru, Language.zh)

# A data item is one named field a provider may release ("full_name", "household_income_band"); never a wildcard.
DataItem = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,63}$")]
PurposeCode = Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Z0-9_]{1,63}$")]
CountryCode = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]
ClientId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,199}$")]
SubjectRef = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_-]{1,128}$")]
Reference = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
Link = Annotated[str, StringConstraints(pattern=r"^(https://|/)[^\s\x00-\x1f]{0,499}$")]


class DpvLegalBasis(StrEnum):
    """W3C DPV legal bases a purpose may rest on."""

    consent = "dpv:Consent"
    explicit_consent = "dpv:ExplicitlyExpressedConsent"
    legal_obligation = "dpv:LegalObligation"
    public_task = "dpv:PublicTask"
    contract = "dpv:Contract"
    vital_interest = "dpv:VitalInterest"


class DpvPurpose(StrEnum):
    """W3C DPV purpose terms the sandbox's purposes are classified under."""

    service_provision = "dpv:ServiceProvision"
    identity_verification = "dpv:IdentityVerification"
    fraud_prevention = "dpv:FraudPreventionAndDetection"
    research = "dpv:ResearchAndDevelopment"
    public_benefit = "dpv:PublicBenefit"
    enforce_security = "dpv:EnforceSecurity"
    legal_compliance = "dpv:LegalCompliance"
    service_personalisation = "dpv:ServicePersonalisation"
    communication = "dpv:CommunicationManagement"
    customer_management = "dpv:CustomerManagement"
    marketing = "dpv:Marketing"


class DurationUnit(StrEnum):
    hour = "hour"
    day = "day"
    month = "month"
    year = "year"


# A month is 30 days and a year 365 for durations (DEPA's DataLife units); frequency windows are calendar periods.
UNIT_SECONDS = {DurationUnit.hour: 3600, DurationUnit.day: 86_400, DurationUnit.month: 30 * 86_400,
                DurationUnit.year: 365 * 86_400}  # fmt: skip


class Duration(BaseModel):
    """A span of time as DEPA writes it: `{unit, value}`."""

    model_config = ConfigDict(extra="forbid")

    unit: DurationUnit
    value: int = Field(ge=0, le=100_000)

    def as_timedelta(self) -> timedelta:
        return timedelta(seconds=UNIT_SECONDS[self.unit] * self.value)


class Frequency(BaseModel):
    """At most `value` uses per calendar `unit` (DEPA `Frequency`)."""

    model_config = ConfigDict(extra="forbid")

    unit: DurationUnit
    value: int = Field(ge=1, le=100_000)
