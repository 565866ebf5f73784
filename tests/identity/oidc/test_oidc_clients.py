"""OIDC discovery and client registration."""

from __future__ import annotations

from joserfc.jwk import ECKey

from tests.identity.access_helpers import call
from tests.identity.oidc_helpers import REDIRECT_URI, discovery, register


def _body(**overrides):
    key = ECKey.generate_key("P-256")
    body = {
        "client_id": "rp-bank",
        "name": "Sandbox Bank",
        "redirect_uris": [REDIRECT_URI],
        "jwks": {"keys": [{**key.as_dict(private=False), "kid": "k1"}]},
        "allowed_scopes": ["openid", "profile"],
    }
    body.update(overrides)
    return body, key


async def _register(api, body, roles=("oidc_admin",)):
    return await call(api, "POST", "/v1/oidc/clients", roles=roles, json=body)


async def test_discovery_is_public_and_describes_the_provider(api) -> None:
    config = await discovery(api)
    issuer = "http://127.0.0.1:8000/identity"
    assert config["issuer"] == issuer
    assert config["authorization_endpoint"] == issuer + "/v1/oidc/authorize"
    assert config["token_endpoint"] == issuer + "/v1/oidc/token"
    assert config["userinfo_endpoint"] == issuer + "/v1/oidc/userinfo"
    assert config["jwks_uri"] == issuer + "/.well-known/jwks.json"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert config["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]
    assert config["subject_types_supported"] == ["pairwise"]
    assert config["id_token_signing_alg_values_supported"] == ["ES256"]


async def test_the_issuer_comes_from_settings(service_factory, gateway) -> None:
    identity = await service_factory("identity", oidc_issuer="https://id.sandbox.example/")
    config = (await identity.client.get("/.well-known/openid-configuration")).json()
    assert config["issuer"] == "https://id.sandbox.example"
    assert config["token_endpoint"] == "https://id.sandbox.example/v1/oidc/token"


async def test_register_and_read_a_client(api) -> None:
    rp = await register(api, "rp-bank")
    response = await call(api, "GET", f"/v1/oidc/clients/{rp.client_id}", roles=("oidc_admin",))
    assert response.status_code == 200
    assert response.json()["redirect_uris"] == [REDIRECT_URI]
    assert response.json()["token_endpoint_auth_method"] == "private_key_jwt"
    assert (await call(api, "GET", "/v1/oidc/clients/rp-none", roles=("oidc_admin",))).status_code == 404


async def test_only_oidc_admins_register_clients(api) -> None:
    body, _ = _body()
    for roles in (("registrar",), ("relying_party",)):
        response = await _register(api, body, roles=roles)
        assert response.status_code == 403
        assert response.json()["rule_id"] == "SG-SEC-1"


async def test_a_client_id_is_registered_once(api) -> None:
    body, _ = _body()
    assert (await _register(api, body)).status_code == 201
    again = await _register(api, body)
    assert again.status_code == 409
    assert again.json()["code"] == "identity.oidc.client_exists"


async def test_unsafe_registrations_are_refused(api) -> None:
    body, key = _body()
    cases = [
        {"jwks": {"keys": [{**key.as_dict(private=True), "kid": "k1"}]}},  # a private key
        {"jwks": {"keys": [{"kty": "oct", "k": "c2VjcmV0", "kid": "k1"}]}},  # a shared secret
        {"redirect_uris": ["http://rp.example/callback"]},  # plain http off loopback
        {"redirect_uris": ["https://rp.example/callback#fragment"]},
        {"redirect_uris": ["rp.example/callback"]},
        {"allowed_scopes": ["profile"]},  # no openid
    ]
    for overrides in cases:
        response = await _register(api, {**body, **overrides})
        assert response.status_code == 422, overrides
    assert (await _register(api, {**body, "redirect_uris": ["http://127.0.0.1:8080/cb"]})).status_code == 201
