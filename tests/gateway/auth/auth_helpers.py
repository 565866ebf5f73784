"""Helpers for the caller-authentication tests: a gateway on a fresh database, and organisations that hold keys."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
from fastapi import FastAPI

from gateway.auth.clients.models import ClientKind
from gateway.auth.clients.provision import add_client
from gateway.auth.clients.schemas import ClientCreate, Jwks
from gateway.config import GatewaySettings
from services.common import jws
from services.common.clock import FrozenClock
from services.common.keys import SigningKey, b64url

PUBLIC_URL = "http://gateway.test"
TOKEN_URL = PUBLIC_URL + "/oauth2/token"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSESSED = {"dpia_ref": "DPIA-T-1", "hria_ref": "HRIA-T-1"}


@dataclass
class Organisation:
    """A registered client as its own software sees it: its id and private keys."""

    client_id: str
    key: SigningKey
    clock: FrozenClock
    dpop_key: SigningKey = field(default_factory=SigningKey.generate)

    def assertion(self, **overrides: Any) -> str:
        now = int(self.clock.now().timestamp())
        claims: dict[str, Any] = {
            "iss": self.client_id,
            "sub": self.client_id,
            "aud": TOKEN_URL,
            "iat": now,
            "exp": now + 60,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        return jws.sign_claims(self.key, {k: v for k, v in claims.items() if v is not None})

    def token_form(self, assertion: str | None = None, **fields: str) -> dict[str, str]:
        return {
            "grant_type": "client_credentials",
            "client_assertion_type": JWT_BEARER,
            "client_assertion": assertion or self.assertion(),
            **fields,
        }

    def dpop_proof(
        self, method: str, url: str, *, access_token: str | None = None, key: SigningKey | None = None, **overrides: Any
    ) -> str:
        signer = key or self.dpop_key
        claims: dict[str, Any] = {
            "htm": method,
            "htu": url,
            "iat": int(self.clock.now().timestamp()),
            "jti": uuid.uuid4().hex,
        }
        if access_token is not None:
            claims["ath"] = b64url(hashlib.sha256(access_token.encode()).digest())
        claims.update(overrides)
        public = {k: v for k, v in signer.public_jwk().items() if k in ("kty", "crv", "x", "y")}
        return jws.sign_claims(
            signer, {k: v for k, v in claims.items() if v is not None}, typ="dpop+jwt", headers={"jwk": public}
        )


@dataclass
class GatewayUnderTest:
    app: FastAPI
    http: httpx.AsyncClient
    settings: GatewaySettings
    clock: FrozenClock
    upstream_apps: dict[str, FastAPI]

    async def register(
        self,
        client_id: str,
        kind: ClientKind = ClientKind.relying_party,
        *,
        approve: bool = True,
        **spec: Any,
    ) -> Organisation:
        key = SigningKey.generate()
        if kind in (ClientKind.relying_party, ClientKind.fsp, ClientKind.programme):
            spec = {**ASSESSED, **spec}
        body = ClientCreate(client_id=client_id, name=client_id.title(), kind=kind, jwks=Jwks(keys=[key.public_jwk()]),
                            **spec)  # fmt: skip
        async with self.app.state.sessionmaker() as session, session.begin():
            await add_client(session, body, keys_dir=self.settings.resolved_keys_dir, now=self.clock.now(),
                             approve=approve)  # fmt: skip
        return Organisation(client_id, key, self.clock)

    async def token(self, org: Organisation, *, dpop: bool = False, **fields: str) -> httpx.Response:
        headers = {"DPoP": org.dpop_proof("POST", TOKEN_URL)} if dpop else {}
        return await self.http.post("/oauth2/token", data=org.token_form(**fields), headers=headers)

    async def access_token(self, org: Organisation, *, dpop: bool = False, **fields: str) -> str:
        response = await self.token(org, dpop=dpop, **fields)
        assert response.status_code == 200, response.text
        return str(response.json()["access_token"])

    async def call(
        self, org: Organisation, method: str, path: str, token: str, *, dpop: bool = False, **kwargs: Any
    ) -> httpx.Response:
        headers = dict(kwargs.pop("headers", {}))
        if dpop:
            headers["Authorization"] = f"DPoP {token}"
            headers["DPoP"] = org.dpop_proof(method, PUBLIC_URL + path, access_token=token)
        else:
            headers["Authorization"] = f"Bearer {token}"
        return await self.http.request(method, path, headers=headers, **kwargs)
