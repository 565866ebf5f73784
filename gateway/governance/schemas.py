"""Wire shapes of the governance routes: the catalogue, the route declarations and the dry run."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from gateway.rules.engine import Outcome
from gateway.rules.routes import Method

Short = Annotated[str, StringConstraints(min_length=1, max_length=100)]


class DecideRequest(BaseModel):
    """A request the caller might send, described rather than sent: nothing reaches a provider."""

    model_config = ConfigDict(extra="forbid")

    method: Method = Field(examples=["POST"])
    path: str = Field(
        min_length=2, max_length=500, pattern=r"^/[!-~]*$", examples=["/identity/v1/kyc"],
        description="The gateway path the request would go to (service prefix included).",
    )  # fmt: skip
    purpose: Short | None = Field(default=None, description="X-Purpose", examples=["KYC_ACCOUNT_OPENING"])
    legal_basis: Short | None = Field(default=None, description="X-Legal-Basis: consent, statute or court_order.")
    consent_id: Short | None = Field(default=None, description="X-Consent-Id")
    channel: Short | None = Field(default=None, description="X-Channel (default web).")
    assisted_by: Short | None = Field(default=None, description="X-Assisted-By")
    court_order: Short | None = Field(default=None, description="X-Court-Order")
    subject: Short | None = Field(default=None, description="X-Subject: a VID or your pairwise token.")
    body: dict[str, Any] | None = Field(default=None, description="The JSON body the request would carry.")


class RuleOutcome(BaseModel):
    rule_id: str
    title: str | None = None
    outcome: Outcome = Field(
        description="permit or deny; not_evaluated (it depends on a rule that denied); on_response (applied to the "
        "provider's answer); by_provider (enforced by the service itself)."
    )
    detail: str
    status: int | None = Field(default=None, description="The status a real request would get from this denial.")
    framework_refs: list[str] = Field(default_factory=list)


class DecideResponse(BaseModel):
    allowed: bool = Field(description="Whether the request would reach the provider.")
    decision: Literal["permit", "deny"]
    route_id: str | None = Field(description="The declared operation it matches (null: undeclared, refused).")
    denied_by: list[str] = Field(description="Every rule that would deny it, in evaluation order.")
    rules: list[RuleOutcome]
    audit_event_id: str = Field(description="The dry run's own audit event (marked dry_run).")
    dry_run: Literal[True] = True


class RouteRead(BaseModel):
    id: str
    method: str
    path: str = Field(description="The gateway path.")
    summary: str
    access: str
    roles: list[str]
    rules: list[str] = Field(description="Every rule that guards it, in evaluation order, then the rest.")
    context: dict[str, str]
    releases: list[str] | None = Field(description="The personal data items it can release, if any.")


class RouteList(BaseModel):
    roles: list[str]
    routes: list[RouteRead]
