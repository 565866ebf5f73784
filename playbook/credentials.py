"""Credentials for the scenario's actors: a registered client gets its access token from the gateway by OAuth2 client
credentials with private_key_jwt (its key under the var dir's keys/clients/), as a real organisation would, and
signs a DPoP proof for every request when its token is DPoP-bound (clients that move money)."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx

from gateway.auth.clients.provision import client_key
from gateway.config import GatewaySettings
from playbook.model import Actor
from playbook.runner import Anonymous, StepFailed
from services.common import jws
from services.common.keys import SigningKey

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class _Token:
    value: str
    dpop: bool
    expires_at: float


class ClientCredentials(Anonymous):
    """Tokens for `client` actors, fetched through the same gateway the scenario talks to, renewed before expiry."""

    def __init__(self, http: httpx.AsyncClient, *, keys_dir: Path, issuer: str) -> None:
        self._http = http
        self._keys_dir = keys_dir
        self._issuer = issuer.rstrip("/")
        self._tokens: dict[str, _Token] = {}

    @classmethod
    def for_sandbox(cls, http: httpx.AsyncClient, var_dir: Path) -> ClientCredentials:
        """Credentials for the sandbox whose gateway keeps its keys under `var_dir` (embedded, or the same var dir
        as a running multi-process sandbox)."""
        from dpi_sandbox.registry import settings_for

        settings = settings_for("gateway", var_dir=var_dir)
        assert isinstance(settings, GatewaySettings)
        return cls(http, keys_dir=settings.resolved_keys_dir, issuer=settings.public_url)

    async def headers(self, name: str, actor: Actor, request: httpx.Request) -> dict[str, str]:
        if actor.kind != "client" or actor.client is None:
            return await super().headers(name, actor, request)
        key = self._key(actor.client)
        token = self._tokens.get(actor.client)
        if token is None or token.expires_at < time.time() + 10:
            token = self._tokens[actor.client] = await self._fetch(actor.client, key)
        if not token.dpop:
            return {"Authorization": f"Bearer {token.value}"}
        url = self._issuer + request.url.path
        return {"Authorization": f"DPoP {token.value}", "DPoP": self._proof(key, request.method, url, token.value)}

    def _key(self, client_id: str) -> SigningKey:
        if not (self._keys_dir / "clients" / f"{client_id}.es256.pem").exists():
            raise StepFailed(f"no key for client {client_id} under {self._keys_dir / 'clients'}: is it registered?")
        return client_key(self._keys_dir, client_id)

    async def _fetch(self, client_id: str, key: SigningKey) -> _Token:
        endpoint = self._issuer + "/oauth2/token"
        now = int(time.time())
        assertion = jws.sign_claims(
            key,
            {"iss": client_id, "sub": client_id, "aud": endpoint, "iat": now, "exp": now + 60, "jti": uuid.uuid4().hex},
        )
        form = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER, "client_assertion": assertion}
        # A DPoP proof on the token request binds the token to the key if the client moves money; others ignore it.
        response = await self._http.post(
            "/oauth2/token", data=form, headers={"DPoP": self._proof(key, "POST", endpoint, None)}
        )
        if response.status_code != 200:
            raise StepFailed(f"the gateway gave {client_id} no token: {response.status_code} {response.text[:200]}")
        body = response.json()
        bound = body["token_type"] == "DPoP"  # noqa: S105 (a token type, not a secret)
        return _Token(body["access_token"], bound, time.time() + float(body["expires_in"]))

    @staticmethod
    def _proof(key: SigningKey, method: str, url: str, access_token: str | None) -> str:
        claims: dict[str, str | int] = {"htm": method, "htu": url, "iat": int(time.time()), "jti": uuid.uuid4().hex}
        if access_token is not None:
            claims["ath"] = jws.access_token_hash(access_token)
        jwk = {k: v for k, v in key.public_jwk().items() if k in ("kty", "crv", "x", "y")}
        return jws.sign_claims(key, claims, typ="dpop+jwt", headers={"jwk": jwk})
