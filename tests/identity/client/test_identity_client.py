"""IdentityClient: the contract against identity's OpenAPI document, and every method against the real app."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import structlog

from services.common.http import RemoteProblem, ServiceClient, endpoint, raise_for_problem
from services.identity.client import (
    AuthnRequest,
    IdentityClient,
    ReferenceType,
    SubjectReference,
)
from tests.identity.identity_helpers import IdentityApi, another_person
from tests.kit.contracts import contract_problems

PIN = "482913"


def test_every_method_matches_identitys_openapi(identity_openapi: dict[str, Any]) -> None:
    assert contract_problems(IdentityClient, identity_openapi) == []


def test_the_contract_check_catches_drift(identity_openapi: dict[str, Any]) -> None:
    class Drifted(ServiceClient):
        @endpoint("POST", "/v1/subjects/resolve-all", body=SubjectReference)
        async def wrong_path(self) -> None: ...

        @endpoint("POST", "/v1/authn", body=SubjectReference)
        async def wrong_model(self) -> None: ...

        async def undeclared(self) -> None: ...

    problems = "\n".join(contract_problems(Drifted, identity_openapi))
    assert "wrong_path: POST /v1/subjects/resolve-all is not in" in problems
    assert "wrong_model request: SubjectReference has fields" in problems
    assert "undeclared: declares no @endpoint" in problems


@pytest.fixture
def identity_openapi() -> dict[str, Any]:
    from services.identity.app import create_app
    from services.identity.config import IdentitySettings

    return create_app(IdentitySettings(_env_file=None)).openapi()  # type: ignore[call-arg]


async def _person_with_pin(api: IdentityApi) -> dict[str, Any]:
    person = await api.enrolled(another_person())
    response = await api.as_subject(person["sub"], "PUT", "/v1/me/pin", json={"pin": PIN})
    assert response.status_code == 200, response.text
    return person


async def test_the_gateway_translates_and_authenticates_through_the_client(identity, gateway) -> None:  # type: ignore[no-untyped-def]
    api = IdentityApi(identity, gateway)
    person = await _person_with_pin(api)
    client = IdentityClient(identity.client)

    def internal() -> str:
        return gateway.assertion("identity", client_id="dpi-gateway", roles=("gateway_internal",))  # type: ignore[no-any-return]

    def as_person() -> str:
        return gateway.assertion("identity", client_id="app", roles=("subject",), subject_ref=person["sub"])  # type: ignore[no-any-return]

    token = await client.pairwise_token(person["sub"], "rp-clinic", assertion=internal())
    reference = SubjectReference(type=ReferenceType.pairwise_token, value=token.token, relying_party_id="rp-clinic")
    assert (await client.resolve_subject(reference, assertion=internal())).sub == person["sub"]

    yes = await client.authenticate(_pin(PIN), assertion=as_person())
    assert yes.authenticated is True
    with pytest.raises(RemoteProblem) as no:
        await client.authenticate(_pin("000000"), assertion=as_person())
    assert no.value.status == 401 and no.value.body["authenticated"] is False

    unknown_token = SubjectReference(type=ReferenceType.pairwise_token, value="tok_" + "a" * 26, relying_party_id="rp")
    with pytest.raises(RemoteProblem) as unknown:
        await client.resolve_subject(unknown_token, assertion=internal())
    assert unknown.value.status == 401 and unknown.value.body["rule_id"] == "SG-TOKEN-1"
    assert (await client.jwks())["keys"]
    assert (await client.health())["service"] == "identity"


def _pin(pin: str) -> AuthnRequest:
    return AuthnRequest.model_validate({"factor": {"type": "pin", "pin": pin}})


async def test_calls_carry_the_request_id_of_the_request_being_served() -> None:
    seen: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("x-request-id"))
        return httpx.Response(200, json={"keys": []})

    client = IdentityClient.connect("http://identity", transport=httpx.MockTransport(answer))
    with structlog.contextvars.bound_contextvars(request_id="req-abc"):
        await client.jwks()
    await client.jwks()
    await client.aclose()
    assert seen == ["req-abc", None]
    assert client._http.timeout.connect == 2.0 and client._http.timeout.read == 5.0


def test_raise_for_problem_keeps_the_remote_body_whole() -> None:
    response = httpx.Response(
        403, json={"type": "x", "rule_id": "SG-SEC-1"}, headers={"content-type": "application/problem+json"}
    )
    with pytest.raises(RemoteProblem) as problem:
        raise_for_problem(response)
    assert problem.value.body == {"type": "x", "rule_id": "SG-SEC-1", "status": 403}
