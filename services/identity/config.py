"""Identity settings: where the master secret lives, which field key is active, and the sandbox's case timings."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field, StringConstraints
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings

KEY_ID_PATTERN = r"^[A-Za-z0-9_-]{1,32}$"
KeyId = Annotated[str, StringConstraints(pattern=KEY_ID_PATTERN)]
# Personal fields a KYC purpose may release; the UIN is not among them and never can be.
KycAttribute = Literal[
    "full_name", "given_name", "family_name", "date_of_birth", "sex", "residency_status", "nationality", "address",
    "phone", "email", "preferred_language",
]  # fmt: skip
DEFAULT_KYC_PURPOSES: dict[str, list[KycAttribute]] = {"KYC_ACCOUNT_OPENING": ["full_name", "date_of_birth", "address"]}


class IdentitySettings(ServiceSettings):
    service_name: ClassVar[str] = "identity"
    model_config = SettingsConfigDict(env_prefix="DPI_IDENTITY_", env_file=".env", extra="ignore")

    master_secret_name: str = Field(
        default="identity-master",
        pattern=KEY_ID_PATTERN,
        description="File stem of the master secret in keys_dir, created on first run (never in the repository). "
        "Every identity key (field encryption, blind indexes, pairwise tokens, OTP/PIN) is derived from it.",
    )
    field_key_id: str = Field(
        default="f1",
        pattern=KEY_ID_PATTERN,
        description="The field-encryption key id new values are encrypted under (rotation: set a new id and list "
        "the old one in field_key_ids_retired; old values stay readable because each stores its key id).",
    )
    field_key_ids_retired: list[KeyId] = Field(
        default_factory=list, description="Older field-encryption key ids that may still decrypt stored values."
    )
    correction_sla_days: int = Field(
        default=30,
        ge=1,
        le=365,
        description="Days a correction case may stay undecided before it is overdue and escalates (SG-GRIEV-3). "
        "A sandbox number, not a framework mandate.",
    )
    correction_escalation_interval_seconds: float = Field(
        default=300,
        ge=0,
        le=86_400,
        description="How often each process escalates overdue correction cases by itself (SG-GRIEV-3); 0 turns the "
        "timer off, leaving POST /v1/corrections/escalate-overdue as the only way.",
    )
    identity_exception_sla_days: int = Field(
        default=5,
        ge=1,
        le=365,
        description="Days an officer has to verify the alternative evidence of an identity exception case before "
        "it is overdue (SG-INCL-1). Sandbox configuration, not a framework mandate.",
    )
    vid_max_active: int = Field(default=5, ge=1, le=100, description="Active VIDs one person may hold at a time.")
    vid_max_validity_days: int = Field(default=3650, ge=1, description="Upper bound on a VID's requested validity.")

    # Authentication, KYC, offline credentials and OIDC. The numbers are sandbox configuration, not framework mandates.
    otp_ttl_seconds: int = Field(
        default=300, ge=30, le=3600, description="How long a one-time code stays valid (sandbox configuration)."
    )
    otp_max_attempts: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Wrong guesses one code survives before it is void and a new one must be requested (sandbox "
        "configuration). This voids the code, never the person's access.",
    )
    biometric_failure_threshold: int = Field(
        default=3,
        ge=1,
        le=10,
        description="Consecutive biometric failures after which the 401 lists the non-biometric alternatives "
        "(SG-INCL-2; sandbox configuration). Biometric failure never locks anyone out.",
    )
    pin_max_consecutive_failures: int = Field(
        default=5,
        ge=3,
        le=20,
        description="Consecutive wrong PINs through one client after which the PIN factor is paused at that client "
        "until the person authenticates again, against guessing (sandbox configuration). Other factors, and the PIN "
        "at other clients, stay open.",
    )
    pin_max_failures_per_window: int = Field(
        default=10,
        ge=3,
        le=100,
        description="Wrong PINs through all clients together, within pin_failure_window_seconds, after which the PIN "
        "is paused everywhere (429 with Retry-After) and the person is told: the ceiling on guesses that many "
        "client ids cannot multiply. A success with a factor that proves the person now (OTP, PIN, biometric, "
        "assisted; not the offline QR) ends it, so the person is never locked out (sandbox configuration).",
    )
    pin_failure_window_seconds: int = Field(
        default=86_400, ge=60, le=30 * 86_400, description="The window of pin_max_failures_per_window."
    )
    otp_max_sends_per_client: int = Field(
        default=5,
        ge=1,
        le=100,
        description="One-time codes one client may have sent to one person within otp_send_window_seconds (429 with "
        "Retry-After beyond it; sandbox configuration).",
    )
    otp_max_sends_per_person: int = Field(
        default=10,
        ge=1,
        le=1000,
        description="One-time codes sent to one person through all clients together within otp_send_window_seconds: "
        "the bound on messages to the person and, times otp_max_attempts, on OTP guesses (sandbox configuration).",
    )
    otp_send_window_seconds: int = Field(
        default=3600, ge=60, le=86_400, description="The window of the one-time code send limits."
    )
    kyc_purposes: dict[str, list[KycAttribute]] = Field(
        default_factory=lambda: {purpose: list(names) for purpose, names in DEFAULT_KYC_PURPOSES.items()},
        description="The KYC policy: for each purpose code that allows eKYC, the attributes it may release "
        "(SG-MIN-2). A purpose not listed here gets yes/no and predicates only. Released = this list intersected "
        "with the attributes the subject consented to.",
    )
    offline_credential_validity_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Lifetime of a signed offline credential (SG-INCL-4). A revocation reaches an offline verifier "
        "only when it next fetches the status list, so keep it short (sandbox configuration).",
    )
    offline_status_list_size: int = Field(
        default=1 << 20,
        ge=1024,
        le=1 << 23,
        multiple_of=8,
        description="Entries in the offline credentials' status list (one bit each; 1,048,576 is 128 KiB before "
        "compression). Each credential ever issued takes one entry, drawn at random.",
    )
    offline_status_list_ttl_seconds: int = Field(
        default=300,
        ge=10,
        le=86_400,
        description="How long a verifier may rely on a fetched status list (its `ttl`); the list itself expires "
        "after twice that.",
    )
    oidc_issuer: str = Field(
        default="http://127.0.0.1:8000/identity",
        description="The OIDC issuer identifier: the identity service's public base URL behind the gateway. The "
        "discovery document's endpoints and the ID token's `iss` derive from it.",
    )
    oidc_transaction_ttl_seconds: int = Field(
        default=600, ge=60, le=3600, description="How long a sign-in may take from authorize to completion."
    )
    oidc_code_ttl_seconds: int = Field(
        default=60, ge=10, le=600, description="Lifetime of an authorization code (single use; sandbox configuration)."
    )
    oidc_token_ttl_seconds: int = Field(
        default=600, ge=60, le=86400, description="Lifetime of access and ID tokens (sandbox configuration)."
    )
    oidc_client_assertion_max_lifetime_seconds: int = Field(
        default=3600,
        ge=60,
        le=86400,
        description="The furthest in the future a private_key_jwt client assertion may expire. 3600 s matches "
        "common client libraries' default; each assertion's jti is accepted once whatever its lifetime.",
    )
