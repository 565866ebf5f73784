"""Credentials for the scenario's actors: a registered client gets its access token from the gateway by OAuth2 client
credentials with private_key_jwt (its key under the var dir's keys/clients/), as a real organisation would, and
signs a DPoP proof for every request when its token is DPoP-bound (clients that move money).

A citizen signs in as a person does with the sandbox's citizen app: authorization code + PKCE at identity's OpenID
provider, through the gateway (the one-time code arrives on the messaging simulator, which stands in for the
person's phone), then the app presents the ID token to the gateway as `Authorization: Bearer`."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from gateway.auth.clients.provision import client_key
from gateway.config import GatewaySettings
from playbook.model import Actor
from playbook.runner import Anonymous, StepFailed
from services.common import jws
from services.common.keys import SigningKey

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CITIZEN_APP = "dpi-citizen-app"  # the audience the gateway accepts ID tokens for (gateway setting citizen_audiences)
CITIZEN_APP_REDIRECT = "http://127.0.0.1/citizen-app/callback"
OIDC_ADMIN = "demo-oversight"  # registers the citizen app at identity once (oidc_admin)
PHONE_SIMULATOR = "demo-trainer"  # reads the simulated SMS the person receives (trainer)
_OTP = re.compile(r"\b([0-9]{6})\b")


@dataclass
class _Token:
    value: str
    dpop: bool
    expires_at: float


class ClientCredentials(Anonymous):
    """Tokens for `client` actors, fetched through the same gateway the scenario talks to, renewed before expiry."""

    def __init__(
        self, http: httpx.AsyncClient, *, keys_dir: Path, issuer: str, now: Callable[[], float] = time.time
    ) -> None:
        self._http = http
        self._keys_dir = keys_dir
        self._issuer = issuer.rstrip("/")
        self._now = now  # the sandbox's clock, which a scenario may move forward
        self._tokens: dict[str, _Token] = {}
        self._id_tokens: dict[str, _Token] = {}

    @classmethod
    def for_sandbox(
        cls, http: httpx.AsyncClient, var_dir: Path, now: Callable[[], float] = time.time
    ) -> ClientCredentials:
        """Credentials for the sandbox whose gateway keeps its keys under `var_dir` (embedded, or the same var dir
        as a running multi-process sandbox)."""
        from dpi_sandbox.registry import settings_for

        settings = settings_for("gateway", var_dir=var_dir)
        assert isinstance(settings, GatewaySettings)
        return cls(http, keys_dir=settings.resolved_keys_dir, issuer=settings.public_url, now=now)

    async def headers(self, name: str, actor: Actor, request: httpx.Request) -> dict[str, str]:
        if actor.kind == "citizen":
            return {"Authorization": f"Bearer {await self.id_token(actor)}"}
        if actor.kind != "client" or actor.client is None:
            return await super().headers(name, actor, request)
        # The path as it goes on the wire (still percent-encoded): the DPoP proof names the URL the request is sent to.
        return await self._client_headers(
            actor.client, request.method, request.url.raw_path.decode("ascii").split("?")[0]
        )

    async def _client_headers(self, client_id: str, method: str, path: str) -> dict[str, str]:
        key = self._key(client_id)
        token = self._tokens.get(client_id)
        if token is None or token.expires_at < self._now() + 10:
            token = self._tokens[client_id] = await self._fetch(client_id, key)
        if not token.dpop:
            return {"Authorization": f"Bearer {token.value}"}
        url = self._issuer + path
        return {"Authorization": f"DPoP {token.value}", "DPoP": self._proof(key, method, url, token.value)}

    async def _as_client(self, client_id: str, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = await self._client_headers(client_id, method, path)
        return await self._http.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]

    async def id_token(self, actor: Actor) -> str:
        """The person's ID token, signing in again when there is none or it is about to expire."""
        if not actor.signs_in_with:
            raise StepFailed(f"citizen {actor.label} names no VID to sign in with (signs_in_with)")
        token = self._id_tokens.get(actor.signs_in_with)
        if token is None or token.expires_at < self._now() + 10:
            token = self._id_tokens[actor.signs_in_with] = await self._sign_in(actor.signs_in_with)
        return token.value

    async def _sign_in(self, vid: str) -> _Token:
        """Authorization code + PKCE at identity's OpenID provider, as the citizen app does on a phone."""
        discovery = await self._http.get("/identity/.well-known/openid-configuration")
        _expect(discovery, 200, "identity's OpenID configuration")
        config = discovery.json()
        app_key = await self._citizen_app_key()
        verifier = secrets.token_urlsafe(48)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        state = secrets.token_urlsafe(12)
        params = {
            "response_type": "code", "client_id": CITIZEN_APP, "redirect_uri": CITIZEN_APP_REDIRECT,
            "scope": "openid", "state": state, "nonce": secrets.token_urlsafe(12),
            "code_challenge": challenge, "code_challenge_method": "S256",
        }  # fmt: skip
        opened = await self._http.get(_path(config["authorization_endpoint"]), params=params)
        _expect(opened, 200, "the sign-in")
        links = opened.json()
        sent = await self._http.post(_path(links["otp_endpoint"]), json={"login_hint": vid})
        _expect(sent, 202, "the sign-in one-time code")
        done = await self._http.post(_path(links["complete_endpoint"]), json={"otp": await self._otp_on_phone(vid)})
        _expect(done, 303, "completing the sign-in")
        query = parse_qs(urlsplit(done.headers["location"]).query)
        if query.get("state") != [state] or "code" not in query:
            raise StepFailed(f"the sign-in came back without its code: {done.headers['location']}")
        now = int(self._now())
        assertion = jws.sign_claims(app_key, {
            "iss": CITIZEN_APP, "sub": CITIZEN_APP, "aud": config["token_endpoint"], "iat": now, "exp": now + 60,
            "jti": uuid.uuid4().hex,
        })  # fmt: skip
        form = {
            "grant_type": "authorization_code", "code": query["code"][0], "redirect_uri": CITIZEN_APP_REDIRECT,
            "code_verifier": verifier, "client_assertion_type": JWT_BEARER, "client_assertion": assertion,
        }  # fmt: skip
        tokens = await self._http.post(
            _path(config["token_endpoint"]),
            content=urlencode(form),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        _expect(tokens, 200, "the ID token")
        id_token = tokens.json()["id_token"]
        return _Token(id_token, dpop=False, expires_at=float(_claims(id_token)["exp"]))

    async def _citizen_app_key(self) -> SigningKey:
        """The citizen app's key (under keys/clients/ like the demo clients'), registered at identity once."""
        key = client_key(self._keys_dir, CITIZEN_APP)
        body = {
            "client_id": CITIZEN_APP,
            "name": "Sandbox citizen app",
            "redirect_uris": [CITIZEN_APP_REDIRECT],
            "jwks": {"keys": [key.public_jwk()]},
            "allowed_scopes": ["openid"],
        }
        registered = await self._as_client(OIDC_ADMIN, "POST", "/identity/v1/oidc/clients", json=body)
        if registered.status_code not in (201, 409):
            raise StepFailed(f"the citizen app could not be registered at identity: {_said(registered)}")
        return key

    async def _otp_on_phone(self, vid: str) -> str:
        """The code in the newest one-time-code SMS the messaging simulator holds for the person."""
        params = {"recipient_sub": vid, "kind": "otp", "limit": "1"}
        inbox = await self._as_client(PHONE_SIMULATOR, "GET", "/identity/v1/simulated-messages", params=params)
        _expect(inbox, 200, "the simulated SMS")
        items = inbox.json()["items"]
        found = _OTP.search(items[0]["body"]) if items else None
        if found is None:
            raise StepFailed("no one-time code reached the person's (simulated) phone")
        return found.group(1)

    def _key(self, client_id: str) -> SigningKey:
        if not (self._keys_dir / "clients" / f"{client_id}.es256.pem").exists():
            raise StepFailed(f"no key for client {client_id} under {self._keys_dir / 'clients'}: is it registered?")
        return client_key(self._keys_dir, client_id)

    async def _fetch(self, client_id: str, key: SigningKey) -> _Token:
        endpoint = self._issuer + "/oauth2/token"
        now = int(self._now())
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
        return _Token(body["access_token"], bound, self._now() + float(body["expires_in"]))

    def _proof(self, key: SigningKey, method: str, url: str, access_token: str | None) -> str:
        claims: dict[str, str | int] = {"htm": method, "htu": url, "iat": int(self._now()), "jti": uuid.uuid4().hex}
        if access_token is not None:
            claims["ath"] = jws.access_token_hash(access_token)
        jwk = {k: v for k, v in key.public_jwk().items() if k in ("kty", "crv", "x", "y")}
        return jws.sign_claims(key, claims, typ="dpop+jwt", headers={"jwk": jwk})


def _path(url: str) -> str:
    """A URL the provider published, as a path on the gateway the runner talks to."""
    parts = urlsplit(url)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def _claims(token: str) -> dict[str, Any]:
    """A JWT's claims, read without verifying (the gateway verifies it; the app only needs to know its expiry)."""
    payload = token.split(".")[1]
    claims: dict[str, Any] = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    return claims


def _said(response: httpx.Response) -> str:
    return f"{response.status_code} {response.text[:200]}"


def _expect(response: httpx.Response, status: int, what: str) -> None:
    if response.status_code != status:
        raise StepFailed(f"{what}: expected {status}, got {_said(response)}")
