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

    # People and oversight (gateway/oversight). The numbers are sandbox configuration: the frameworks ask for
    # published time limits and small-cell protection without fixing values.
    grievance_acknowledge_hours: int = Field(default=48, ge=1, description="A grievance is acknowledged within this.")
    grievance_resolve_days: int = Field(default=30, ge=1, description="A grievance is resolved within this.")
    grievance_payment_resolve_days: int = Field(default=10, ge=1, description="A payment dispute is resolved within.")
    grievance_escalation_interval_seconds: float = Field(
        default=300, ge=0, description="How often overdue grievances escalate to oversight; 0 turns the timer off."
    )
    statistics_min_cell: int = Field(default=10, ge=2, description="k: public statistics withhold counts under k.")

    def upstream_urls(self) -> dict[str, str]:
        return {name: getattr(self, f"{name}_url") for name in UPSTREAM_NAMES}
