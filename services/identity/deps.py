"""The identity service's named dependencies: its runtime (keys, clock, outbox, settings) and the role gates."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from services.common.assertion import Caller
from services.common.auth import require_roles
from services.common.clock import Clock
from services.common.keys import SigningKey
from services.common.outbox import Outbox
from services.identity.config import IdentitySettings
from services.identity.keyring import Keyring


@dataclass(frozen=True)
class Runtime:
    """What the domain services need besides the session and the caller."""

    keyring: Keyring
    clock: Clock
    outbox: Outbox
    settings: IdentitySettings


# The dependencies are `async def` although they do not await: FastAPI runs a plain `def` dependency in its thread
# pool, a thread hop per request for reading an attribute.
async def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.identity
    return runtime


RuntimeDep = Annotated[Runtime, Depends(get_runtime)]
RegistrarDep = Annotated[Caller, Depends(require_roles("registrar"))]
AdjudicatorDep = Annotated[Caller, Depends(require_roles("adjudicator"))]
SubjectDep = Annotated[Caller, Depends(require_roles("subject"))]
GatewayInternalDep = Annotated[Caller, Depends(require_roles("gateway_internal"))]


async def get_signing_key(request: Request) -> SigningKey:
    """The service's own ES256 key (published at /.well-known/jwks.json): ID tokens, offline credentials, KYC."""
    key: SigningKey = request.app.state.signing_key
    return key


SigningKeyDep = Annotated[SigningKey, Depends(get_signing_key)]
# Authentication: the person themselves, a relying party, a registrar, or a field operator on the assisted channel.
AuthnCallerDep = Annotated[Caller, Depends(require_roles("subject", "relying_party", "registrar", "assisted_operator"))]
RelyingPartyDep = Annotated[Caller, Depends(require_roles("relying_party"))]
TrainerDep = Annotated[Caller, Depends(require_roles("trainer"))]
OidcAdminDep = Annotated[Caller, Depends(require_roles("oidc_admin"))]
