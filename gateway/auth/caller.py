"""The authenticated caller at the gateway: what the authenticator proved about whoever sent the request.

This is the one seam between caller authentication (client registry, client-credentials tokens, DPoP, citizens'
OIDC tokens) and everything that decides on a request (the rule engine, the audit log, `/me`, `/governance`,
`/audit`). The rule engine turns it, with the request's own context, into the `CallContext` of the assertion that
the gateway mints for one service.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from services.common.assertion import CallContext

CallerKind = Literal["organisation", "citizen"]


class AuthenticatedCaller(BaseModel):
    """A caller the gateway has authenticated; roles and scopes are what its registration or token grants."""

    model_config = ConfigDict(frozen=True)

    client_id: str = Field(description="The registered client (an organisation, or the app a citizen signed in with).")
    kind: CallerKind = "organisation"
    roles: tuple[str, ...] = ()
    scopes: tuple[str, ...] = ()
    purposes: tuple[str, ...] = Field(default=(), description="Purposes the client is approved for.")
    jurisdiction: str | None = None
    processing_location: str | None = Field(default=None, description="Where the client processes data (ISO 3166).")
    subject_ref: str | None = Field(
        default=None, description="A citizen's internal subject reference (`sub`); never shown to relying parties."
    )
    token_id: str | None = None
    dpop_jkt: str | None = Field(default=None, description="JWK thumbprint a DPoP-bound token is bound to.")

    def has_role(self, *roles: str) -> bool:
        return any(role in self.roles for role in roles)

    def context(self, **request_context: Any) -> CallContext:
        """The assertion context for one forwarded request: who the caller is, plus what the gateway decided."""
        values: dict[str, Any] = {"client_id": self.client_id, "roles": self.roles, "subject_ref": self.subject_ref}
        values.update(request_context)
        return CallContext(**values)
