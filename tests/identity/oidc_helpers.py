"""Helpers for the OIDC tests: a registered relying party with its own key, a citizen's browser (or app) that
reaches the identity service through the "gateway" (a fresh assertion on every request), and a full sign-in."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
from authlib.oauth2.rfc7523 import private_key_jwt_sign
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc.jwk import ECKey, RSAKey

from tests.identity.access_helpers import Enrolled, call, latest_otp
from tests.identity.identity_helpers import IdentityApi

LOCAL = "http://identity"
ISSUER = "http://127.0.0.1:8000/identity"  # the default oidc_issuer: the identity service behind the gateway
REDIRECT_URI = "https://rp.example/callback"
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass
class RelyingParty:
    client_id: str
    key: ECKey | RSAKey
    kid: str
    alg: str
    redirect_uri: str = REDIRECT_URI


def gateway_hook(
    api: IdentityApi, *, client_id: str, roles: Sequence[str]
) -> Callable[[httpx.Request], Awaitable[None]]:
    """An httpx request hook that adds a fresh gateway assertion, as the gateway does for every request it forwards."""

    service_base = str(api.svc.client.base_url).rstrip("/")

    async def add_assertion(request: httpx.Request) -> None:
        if str(request.url).startswith(ISSUER + "/"):  # the gateway routes /identity/... to the identity service
            request.url = httpx.URL(service_base + str(request.url)[len(ISSUER) :])
        request.headers.update(api.gateway.headers("identity", client_id=client_id, roles=tuple(roles)))

    return add_assertion


def via_gateway(api: IdentityApi, *, client_id: str, roles: Sequence[str]) -> httpx.AsyncClient:
    """A plain HTTP client that reaches the identity service as if through the gateway: the app in-process, or,
    where the service has no app object (a benchmark's uvicorn server), over HTTP at its client's base URL."""
    app = getattr(api.svc, "app", None)
    return httpx.AsyncClient(
        transport=None if app is None else httpx.ASGITransport(app=app),
        base_url=api.svc.client.base_url,
        event_hooks={"request": [gateway_hook(api, client_id=client_id, roles=roles)]},
    )


def local(url: str, issuer: str) -> str:
    """A URL under the public issuer as the in-process app sees it (what the gateway's routing does)."""
    assert url.startswith(issuer), url
    return LOCAL + url[len(issuer) :]


async def discovery(api: IdentityApi) -> dict[str, Any]:
    response = await api.svc.client.get("/.well-known/openid-configuration")  # public: no assertion
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


async def register(
    api: IdentityApi,
    client_id: str = "rp-bank",
    *,
    alg: str = "ES256",
    scopes: Sequence[str] = ("openid", "profile", "birthdate", "address"),
    redirect_uris: Sequence[str] = (REDIRECT_URI,),
) -> RelyingParty:
    key: ECKey | RSAKey = ECKey.generate_key("P-256") if alg == "ES256" else RSAKey.generate_key(2048)
    kid = key.thumbprint()
    public = {**key.as_dict(private=False), "kid": kid, "use": "sig", "alg": alg}
    body = {
        "client_id": client_id,
        "name": f"Sandbox {client_id}",
        "redirect_uris": list(redirect_uris),
        "jwks": {"keys": [public]},
        "allowed_scopes": list(scopes),
    }
    response = await call(api, "POST", "/v1/oidc/clients", roles=("oidc_admin",), json=body)
    assert response.status_code == 201, response.text
    return RelyingParty(client_id, key, kid, alg, redirect_uris[0])


def authorize_params(rp: RelyingParty, verifier: str, **overrides: str | None) -> dict[str, str]:
    params: dict[str, str | None] = {
        "response_type": "code",
        "client_id": rp.client_id,
        "redirect_uri": rp.redirect_uri,
        "scope": "openid profile",
        "state": secrets.token_urlsafe(8),
        "nonce": secrets.token_urlsafe(8),
        "code_challenge": create_s256_code_challenge(verifier),
        "code_challenge_method": "S256",
    }
    params.update(overrides)
    return {k: v for k, v in params.items() if v is not None}


async def sign_in(
    api: IdentityApi, rp: RelyingParty, person: Enrolled, *, verifier: str | None = None, **overrides: str | None
) -> tuple[str, str, dict[str, str]]:
    """Drive a whole sign-in as the citizen's app: authorize, OTP to the VID, complete. Returns (code, verifier,
    the authorize parameters)."""
    verifier = verifier or secrets.token_urlsafe(48)
    params = authorize_params(rp, verifier, **overrides)
    async with via_gateway(api, client_id="citizen-app", roles=("subject",)) as browser:
        transaction = await browser.get("/v1/oidc/authorize", params=params)
        assert transaction.status_code == 200, transaction.text
        links = transaction.json()
        sent = await browser.post(links["otp_endpoint"], json={"login_hint": person.vid})
        assert sent.status_code == 202, sent.text
        done = await browser.post(links["complete_endpoint"], json={"otp": await latest_otp(api, person.sub)})
        assert done.status_code == 303, done.text
    location = done.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert location.startswith(rp.redirect_uri + "?")
    assert query["state"] == [params["state"]]
    return query["code"][0], verifier, params


def client_assertion(rp: RelyingParty, audience: str, *, key: Any = None, **claims: Any) -> str:
    return private_key_jwt_sign(  # type: ignore[no-any-return]
        key or rp.key, rp.client_id, audience, alg=rp.alg, claims=claims or None, header={"kid": rp.kid}
    )


async def token_request(
    api: IdentityApi, rp: RelyingParty, config: dict[str, Any], **form: str | None
) -> httpx.Response:
    """POST the token endpoint form (private_key_jwt by default) as the relying party, through the gateway."""
    fields: dict[str, str | None] = {
        "grant_type": "authorization_code",
        "redirect_uri": rp.redirect_uri,
        "client_assertion_type": JWT_BEARER,
    }
    if "client_assertion" not in form:
        fields["client_assertion"] = client_assertion(rp, config["token_endpoint"])
    fields.update(form)
    async with via_gateway(api, client_id=rp.client_id, roles=("relying_party",)) as http:
        return await http.post(
            "/v1/oidc/token",
            content=urlencode({k: v for k, v in fields.items() if v is not None}),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
