from __future__ import annotations

from enum import StrEnum
from typing import ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.common.settings import ServiceSettings

UPSTREAM_NAMES = ("identity", "payments", "consent", "exchange")


class RateLimitStore(StrEnum):
    """Where the gateway counts requests for its rate limits."""

    memory = "memory"  # exact while one process serves the gateway (embedded, multi-process)
    redis = "redis"  # exact across every replica (distributed)


class GatewaySettings(ServiceSettings):
    service_name: ClassVar[str] = "gateway"
    model_config = SettingsConfigDict(env_prefix="DPI_GATEWAY_", env_file=".env", extra="ignore")

    identity_url: str = Field(default="http://127.0.0.1:8001", description="Where the identity service listens.")
    payments_url: str = "http://127.0.0.1:8002"
    consent_url: str = "http://127.0.0.1:8003"
    exchange_url: str = "http://127.0.0.1:8004"

    # --- callers (gateway.auth) -------------------------------------------------------------------------------------
    public_url: str = Field(
        default="http://127.0.0.1:8000",
        description="The gateway's public base URL: the OAuth issuer; the token endpoint is PUBLIC_URL/oauth2/token "
        "(the `aud` of client assertions) and DPoP proofs name URLs under it.",
    )
    access_token_ttl_seconds: int = Field(default=300, ge=30, le=3600, description="Lifetime of access tokens.")
    client_assertion_max_lifetime_seconds: int = Field(
        default=3600,
        ge=60,
        le=86_400,
        description="The furthest in the future a private_key_jwt assertion may expire (authlib's default is 3600 s); "
        "each assertion's jti is accepted once whatever its lifetime.",
    )
    client_jwks_uri_allowlist: list[str] = Field(
        default_factory=list,
        description="URL prefixes a client's registered jwks_uri must start with; empty: no jwks_uri is accepted.",
    )
    client_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long a process reuses a client's registration (status, roles, keys) before reading it again: "
        "the longest a suspension takes to reach a running replica.",
    )
    dpop_nonce_required: bool = Field(
        default=False, description="Require a server-issued DPoP nonce in every proof (RFC 9449 section 8)."
    )
    dpop_proof_max_age_seconds: int = Field(
        default=60, ge=5, le=600, description="How old (or how far ahead) a DPoP proof's iat may be."
    )
    identity_issuer: str = Field(
        default="http://127.0.0.1:8000/identity",
        description="The `iss` of citizens' ID tokens: identity's OIDC issuer (its OIDC_ISSUER setting).",
    )
    citizen_audiences: list[str] = Field(
        default_factory=lambda: ["dpi-citizen-app"],
        description="The client ids (registered at identity's OIDC provider) whose citizens' ID tokens the gateway "
        "accepts as the citizen's credential.",
    )
    rate_limit_store: RateLimitStore = RateLimitStore.memory
    rate_limit_window_seconds: int = Field(default=60, ge=1, le=3600, description="The rate limits' fixed window.")
    rate_limit_per_client: int = Field(
        default=1200, ge=1, description="Requests one client may make in a window, over all routes."
    )
    rate_limit_routes: dict[str, int] = Field(
        default_factory=lambda: {"/oauth2/token": 300},
        description="Per-client limits for route prefixes (the longest matching prefix applies), e.g. "
        '{"/oauth2/token": 300, "/payments": 600}.',
    )
    demo_clients: bool = Field(
        default=True,
        description="In the dev environment, register and approve one demo client per role at start-up, with keys "
        "generated under KEYS_DIR/clients/ (never in the repository). Ignored outside dev.",
    )

    # ---- audit log (gateway/audit) ----
    audit_origin: str = Field(
        default="dpi-sandbox.example/audit-log",
        pattern=r"^[A-Za-z0-9.\-_/:]{1,128}$",
        description="The audit log's checkpoint origin and key name (C2SP tlog-checkpoint).",
    )
    audit_checkpoint_seconds: float = Field(
        default=10.0, ge=0, description="How often a new checkpoint is signed when the log grew; 0: only on demand."
    )
    audit_max_batch: int = Field(default=2000, ge=1, description="Most audit events committed in one transaction.")
    audit_witness: bool = Field(default=True, description="Run the in-sandbox witness on every checkpoint.")

    # Channels (gateway/channels): the text-only (USSD) menu.
    ussd_session_timeout_seconds: int = Field(
        default=180, ge=10, le=3600, description="A USSD menu session idle longer than this ends (the gateway's clock)."
    )

    # People and oversight (gateway/oversight). The numbers are sandbox configuration: the frameworks ask for
    # published time limits and small-cell protection without fixing values.
    grievance_acknowledge_hours: int = Field(default=48, ge=1, description="A grievance is acknowledged within this.")
    grievance_resolve_days: int = Field(default=30, ge=1, description="A grievance is resolved within this.")
    grievance_payment_resolve_days: int = Field(default=10, ge=1, description="A payment dispute is resolved within.")
    grievance_escalation_interval_seconds: float = Field(
        default=300, ge=0, description="How often overdue grievances escalate to oversight; 0 turns the timer off."
    )
    statistics_min_cell: int = Field(default=10, ge=2, description="k: public statistics withhold counts under k.")
    breach_notice_hours: int = Field(
        default=72, ge=1, description="Every person a breach touched is told within this many hours of its discovery."
    )
    notice_interval_seconds: float = Field(
        default=5.0,
        ge=0,
        description="How often the notice timer reads the audit log and sends due notices (it is also woken by each "
        "release and breach); 0 turns the timer off (tests call run_once).",
    )

    purpose_cache_seconds: float = Field(
        default=5.0,
        ge=0,
        le=300,
        description="How long the gateway keeps a purpose read from the registry (SG-PURPOSE-1): a suspension takes "
        "effect within this time. Person references and consent decisions are never cached. Sandbox configuration.",
    )

    def upstream_urls(self) -> dict[str, str]:
        return {name: getattr(self, f"{name}_url") for name in UPSTREAM_NAMES}

    @property
    def issuer(self) -> str:
        return self.public_url.rstrip("/")

    @property
    def token_endpoint(self) -> str:
        return self.issuer + "/oauth2/token"
