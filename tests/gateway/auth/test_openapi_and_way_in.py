"""The docs a developer starts from: the aggregated OpenAPI at /openapi.json (every service's declared operations
under its gateway prefix, with the gateway's security schemes and problem answers), /docs offline, the identity OIDC
discovery URLs working through the gateway, and the grievance link of every problem body resolving."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

import pytest

from gateway.auth.clients.models import ClientKind
from gateway.rules.routes import load_routes
from tests.gateway.auth.auth_helpers import PUBLIC_URL

SERVICES = ("identity", "payments", "consent", "exchange")


@pytest.fixture
async def gw(make_gateway):  # type: ignore[no-untyped-def]
    return await make_gateway(services=SERVICES)


def _refs(node: Any) -> list[str]:
    if isinstance(node, dict):
        found = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
        return found + [ref for value in node.values() for ref in _refs(value)]
    if isinstance(node, list):
        return [ref for item in node for ref in _refs(item)]
    return []


async def test_the_aggregated_openapi_offers_every_declared_operation_under_its_prefix(gw):
    response = await gw.http.get("/openapi.json")
    assert response.status_code == 200
    document = response.json()
    assert "x-dpi-services-unavailable" not in document["info"]
    offered = {(path, method) for path, ops in document["paths"].items() for method in ops if method != "parameters"}
    declared = {(re.sub(r"\{[^}]*\}", "{}", r.gateway_path), r.method.lower()) for r in load_routes()}
    service_ops = {(path, method) for path, method in offered if path.split("/")[1] in SERVICES}
    assert len(service_ops) > 20, "the services' operations are merged in"
    for path, method in service_ops:  # nothing undeclared is offered: the gateway would refuse it
        assert (re.sub(r"\{[^}]*\}", "{}", path), method) in declared, f"{method} {path} is offered but not declared"
    assert not any(p.startswith("/{service}") for p, _ in offered)
    for service in SERVICES:
        assert (f"/{service}/v1/caller", "get") in offered
    assert ("/identity/v1/me/vids", "get") in offered and ("/oauth2/token", "post") in offered
    # Every reference resolves: the services' schemas were renamed consistently.
    schemas = document["components"]["schemas"]
    for ref in _refs(document):
        assert ref.removeprefix("#/components/schemas/") in schemas, ref


async def test_every_operation_id_in_the_aggregated_openapi_is_unique(gw):
    """OpenAPI requires unique operation ids; client generators name methods after them."""
    document = (await gw.http.get("/openapi.json")).json()
    ids = [
        (op["operationId"], f"{method.upper()} {path}")
        for path, ops in document["paths"].items()
        for method, op in ops.items()
        if method != "parameters"
    ]
    seen: dict[str, str] = {}
    for operation_id, where in ids:
        assert operation_id not in seen, f"{operation_id} names both {seen[operation_id]} and {where}"
        seen[operation_id] = where
    assert len(seen) > 100


async def test_operations_name_the_gateways_security_schemes_and_problem_answers(gw):
    document = (await gw.http.get("/openapi.json")).json()
    schemes = document["components"]["securitySchemes"]
    assert schemes["BearerToken"] == {**schemes["BearerToken"], "type": "http", "scheme": "bearer"}
    assert schemes["ClientCredentials"]["flows"]["clientCredentials"]["tokenUrl"] == PUBLIC_URL + "/oauth2/token"
    assert schemes["DPoP"]["name"] == "DPoP" and schemes["CitizenOidc"]["type"] == "openIdConnect"
    assert "GatewayAssertion" not in schemes, "the services' own scheme is the gateway's business"
    vids = document["paths"]["/identity/v1/me/vids"]["get"]
    assert {"BearerToken": []} in vids["security"] and {"CitizenOidc": ["openid"]} in vids["security"]
    for status in ("401", "403", "429", "502"):
        assert status in vids["responses"], status
    assert "SG-SEC-1" in vids["responses"]["403"]["description"]
    health = document["paths"]["/identity/healthz"]["get"]
    assert health["security"] == []
    assert "security" in document["paths"]["/clients"]["get"], "the gateway's own protected routes too"


async def test_a_token_from_the_way_in_works_on_an_operation_as_the_docs_page_sends_it(gw):
    document = (await gw.http.get("/openapi.json")).json()
    assert {"BearerToken": []} in document["paths"]["/identity/v1/caller"]["get"]["security"]
    org = await gw.register("social-agency", scopes=["identity"])
    token = await gw.access_token(org)  # what `dpi-sandbox token --client NAME` prints (tests/gateway/auth/test_cli.py)
    response = await gw.http.get("/identity/v1/caller", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200 and response.json()["client_id"] == "social-agency"


async def test_the_docs_page_works_offline(gw):
    page = await gw.http.get("/docs")
    assert page.status_code == 200
    assert "cdn" not in page.text.lower()
    assert "/openapi.json" in page.text
    for asset in ("swagger-ui-bundle.js", "swagger-ui.css"):
        assert f"/static-offline-docs/{asset}" in page.text
        assert (await gw.http.get(f"/static-offline-docs/{asset}")).status_code == 200
    assert (await gw.http.get("/openapi/gateway.json")).json()["paths"]["/oauth2/token"]


async def test_the_urls_identitys_oidc_discovery_advertises_work_through_the_gateway(gw):
    discovery = await gw.http.get("/identity/.well-known/openid-configuration")
    assert discovery.status_code == 200
    config = discovery.json()
    issuer_path = urlsplit(config["issuer"]).path
    assert issuer_path == "/identity", "the issuer is the identity service behind the gateway"

    def through_gateway(url: str) -> str:
        return urlsplit(url).path

    jwks = await gw.http.get(through_gateway(config["jwks_uri"]))
    assert jwks.status_code == 200 and jwks.json()["keys"]
    authorize = await gw.http.get(through_gateway(config["authorization_endpoint"]), params={"client_id": "nobody"})
    assert authorize.status_code == 400 and authorize.json()["code"] == "identity.oidc.unknown_client"
    token = await gw.http.post(through_gateway(config["token_endpoint"]), data={"grant_type": "authorization_code"})
    assert token.status_code == 401 and token.json()["error"] == "invalid_client", "identity's own answer"
    userinfo = await gw.http.get(through_gateway(config["userinfo_endpoint"]))
    assert userinfo.status_code == 401 and userinfo.headers["content-type"] == "application/problem+json"


@pytest.mark.rule("SG-GRIEV-1")
async def test_the_grievance_link_in_a_problem_body_resolves(gw):
    denied = await gw.http.get("/clients")
    href = denied.json()["grievance"]["href"]
    assert href.startswith("/")
    agency = await gw.register("social-agency", ClientKind.relying_party)
    token = await gw.access_token(agency)
    forbidden = await gw.call(agency, "GET", "/clients", token)
    assert forbidden.json()["grievance"]["href"] == href
    served = await gw.http.get(href)
    assert served.status_code != 404, f"{href} is not served"
    assert served.status_code == 401 and served.headers["www-authenticate"], "a citizen signs in to file one"
