"""The edge rules every app inherits (services.common.edge), probed on the identity service and through the gateway,
on SQLite and PostgreSQL: authentication before parsing, one rule for all text input, body size, media type,
malformed bodies, methods. Each answer is problem+json and none is a 5xx."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from sqlalchemy.exc import DBAPIError

from dpi_sandbox.registry import entry
from gateway.auth.caller import AuthenticatedCaller
from services.common.assertion import AssertionMinter, CallContext, StaticJwks
from services.common.db import create_all, create_engine
from services.common.problems import PROBLEM_MEDIA_TYPE, install_problem_handlers
from services.common.settings import ReplayStore
from tests.conftest import _metadata_of
from tests.identity.identity_helpers import REGISTRAR, SUBJECT, another_person, table_rows

PROBLEM = PROBLEM_MEDIA_TYPE


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM), response.headers
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


@pytest.fixture
async def identity(service_factory):  # type: ignore[no-untyped-def]
    return await service_factory("identity", max_body_bytes=64 * 1024)


def registrar(gateway) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return gateway.headers("identity", client_id="registry-office", roles=REGISTRAR)


class TestAuthenticationBeforeParsing:
    @pytest.mark.parametrize(
        ("content", "content_type"),
        [
            (b"{not json", "application/json"),
            (b'{"given_name": 7}', "application/json"),
            (b"\xff\xfe", "application/json"),
            (b"given_name=Amara", "text/plain"),
            (b'{"given_name": "A\\u0000"}', "application/json"),
        ],
    )
    async def test_a_stranger_gets_401_whatever_the_body(self, identity, content, content_type) -> None:
        response = await identity.client.post("/v1/enrolments", content=content, headers={"content-type": content_type})
        body = assert_problem(response, 401)
        assert "errors" not in body, "a stranger learns nothing about the body's shape"
        assert await table_rows(identity, "persons") == []

    async def test_an_invalid_path_or_query_is_not_judged_before_the_assertion(self, identity) -> None:
        assert_problem(await identity.client.get("/v1/persons/per_%00"), 401)
        assert_problem(await identity.client.get("/v1/me/auth-history", params={"cursor": "x\x00"}), 401)


class TestTextInput:
    async def test_a_nul_in_a_path_id_is_422(self, identity, gateway) -> None:
        body = assert_problem(await identity.client.get("/v1/persons/per_%00x", headers=registrar(gateway)), 422)
        assert body["errors"][0]["type"] == "string_nul"

    @pytest.mark.parametrize("name", ["client_id", "state", "nonce", "redirect_uri"])
    async def test_a_nul_in_a_query_parameter_is_422(self, identity, gateway, name) -> None:
        headers = gateway.headers("identity", client_id="citizen-app", roles=SUBJECT, subject_ref="sub_x")
        response = await identity.client.get("/v1/oidc/authorize", params={name: "abc\x00def"}, headers=headers)
        body = assert_problem(response, 422)
        assert body["errors"][0]["loc"] == ["query", name]

    async def test_a_nul_in_a_cursor_is_422(self, identity, gateway) -> None:
        headers = gateway.headers("identity", roles=SUBJECT, subject_ref="sub_x")
        response = await identity.client.get("/v1/me/auth-history", params={"cursor": "ahe_\x00"}, headers=headers)
        assert_problem(response, 422)

    async def test_a_nul_in_a_header_is_422(self, identity, gateway) -> None:
        # An ASGI server refuses a raw NUL in a header line; the app must not rely on that.
        scope_headers = {**registrar(gateway), "Idempotency-Key": "key\x00"}
        response = await identity.client.post("/v1/enrolments", json=another_person(), headers=scope_headers)
        assert_problem(response, 422)
        assert await table_rows(identity, "persons") == []

    @pytest.mark.parametrize(
        "escape", ["\\u0000", "\\U0000", "tail\\\\\\u0000"], ids=["escape", "upper", "after-escaped-backslash"]
    )
    async def test_a_nul_in_a_body_string_is_422(self, identity, gateway, escape) -> None:
        content = ('{"given_name": "Am' + escape + 'ara"}').encode()
        response = await identity.client.post(
            "/v1/enrolments", content=content, headers={**registrar(gateway), "content-type": "application/json"}
        )
        assert_problem(response, 422)

    async def test_an_escaped_backslash_before_u0000_is_text_not_a_nul(self, identity, gateway) -> None:
        person = another_person(address="C:\\\\u0000 Street")  # a backslash, then the letters u0000
        response = await identity.client.post("/v1/enrolments", json=person, headers=registrar(gateway))
        assert response.status_code == 201, response.text

    async def test_an_over_long_redirect_uri_is_422_not_a_database_error(self, identity, gateway) -> None:
        headers = gateway.headers("identity", client_id="citizen-app", roles=SUBJECT, subject_ref="sub_x")
        params = {"client_id": "rp", "redirect_uri": "https://rp.example/" + "a" * 2100}
        body = assert_problem(await identity.client.get("/v1/oidc/authorize", params=params, headers=headers), 422)
        assert body["errors"][0]["loc"][-1] == "redirect_uri"

    async def test_an_over_long_client_id_claim_is_a_malformed_assertion(self, identity, gateway) -> None:
        # A gateway that minted a claim longer than the column (model_construct skips the minter's own check).
        context = CallContext.model_construct(client_id="c" * 300, roles=REGISTRAR, channel="web")
        headers = {"X-Gateway-Assertion": AssertionMinter(gateway.key, gateway.clock).mint("identity", context)}
        response = await identity.client.post("/v1/enrolments", json=another_person(), headers=headers)
        assert_problem(response, 401)
        assert await table_rows(identity, "persons") == []

    async def test_every_text_input_of_identity_is_bounded(self, identity) -> None:
        """Every string a caller may send in a query or body declares a maximum (or a pattern, enum or format that
        bounds it): the schema side of 'a maximum length that matches the column'. Paths are capped at the edge."""
        spec = identity.app.openapi()
        unbounded = [
            f"{method.upper()} {path} {where}"
            for path, operations in spec["paths"].items()
            for method, operation in operations.items()
            for where in _unbounded_inputs(operation, spec["components"]["schemas"])
        ]
        assert unbounded == []


class TestCursors:
    @pytest.mark.parametrize(
        ("path", "roles"),
        [
            ("/v1/adjudication-cases", ("adjudicator",)),
            ("/v1/me/auth-history", SUBJECT),
            ("/v1/simulated-messages", ("trainer",)),
        ],
    )
    @pytest.mark.parametrize("cursor", ["garbage", "ahe_" + "0" * 31, "x" * 300])
    async def test_an_invalid_cursor_is_422_not_an_empty_page(self, identity, gateway, path, roles, cursor) -> None:
        sub = "sub_" + "a" * 26
        headers = gateway.headers("identity", roles=roles, subject_ref=sub)
        params = {"cursor": cursor, "recipient_sub": sub}
        assert_problem(await identity.client.get(path, params=params, headers=headers), 422)


class TestBodies:
    async def test_a_declared_body_over_the_limit_is_413_before_it_is_read(self, identity, gateway) -> None:
        response = await identity.client.post(
            "/v1/enrolments",
            content=b"{" + b" " * (65 * 1024) + b"}",
            headers={**registrar(gateway), "content-type": "application/json"},
        )
        body = assert_problem(response, 413)
        assert body["code"] == "common.content_too_large"

    async def test_a_streamed_body_over_the_limit_is_413(self, identity, gateway) -> None:
        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(70):
                yield b" " * 1024

        response = await identity.client.post(
            "/v1/enrolments", content=chunks(), headers={**registrar(gateway), "content-type": "application/json"}
        )
        assert_problem(response, 413)

    async def test_the_limit_is_configurable(self, service_factory, gateway) -> None:
        roomy = await service_factory("identity", max_body_bytes=2 * 1_048_576)
        padded = json.dumps({**another_person(), "pad": "y" * 1_200_000}).encode()
        response = await roomy.client.post(
            "/v1/enrolments", content=padded, headers={**registrar(gateway), "content-type": "application/json"}
        )
        assert response.status_code == 422, "under the raised limit the body is read, and judged by its schema"

    @pytest.mark.parametrize("content_type", ["text/plain", "application/xml", "application/x-www-form-urlencoded"])
    async def test_a_wrong_content_type_is_415(self, identity, gateway, content_type) -> None:
        headers = {**registrar(gateway), "content-type": content_type}
        response = await identity.client.post("/v1/enrolments", content=b'{"given_name": "Amara"}', headers=headers)
        assert_problem(response, 415)
        assert response.headers["accept"] == "application/json"

    async def test_a_json_body_without_a_content_type_is_415(self, identity, gateway) -> None:
        response = await identity.client.post("/v1/enrolments", content=b"{}", headers=registrar(gateway))
        assert_problem(response, 415)

    @pytest.mark.parametrize("content", [b"{not json", b'{"a": "\xff"}', b"[1, 2"], ids=["syntax", "utf8", "eof"])
    async def test_a_malformed_json_body_is_422_like_every_other_bad_body(self, identity, gateway, content) -> None:
        response = await identity.client.post(
            "/v1/enrolments", content=content, headers={**registrar(gateway), "content-type": "application/json"}
        )
        assert_problem(response, 422)

    async def test_the_token_endpoint_keeps_the_oauth_error_shape(self, identity, gateway) -> None:
        headers = gateway.headers("identity", client_id="rp", roles=("relying_party",))
        response = await identity.client.post(
            "/v1/oidc/token",
            content=b"grant_type=authorization_code&code=a%00b",
            headers={**headers, "content-type": "application/x-www-form-urlencoded"},
        )
        assert response.status_code == 400
        assert response.json()["error"] == "invalid_request"

    async def test_the_openapi_page_documents_the_edge_answers(self, identity) -> None:
        operations = identity.app.openapi()["paths"]
        enrol = operations["/v1/enrolments"]["post"]["responses"]
        for status in ("401", "413", "415", "422"):
            assert PROBLEM in enrol[status]["content"], status
        token_401 = operations["/v1/oidc/token"]["post"]["responses"]["401"]["content"]
        assert set(token_401) == {"application/json", PROBLEM}


class TestMethods:
    async def test_a_wrong_method_is_405_with_allow(self, identity, gateway) -> None:
        body = assert_problem(await identity.client.delete("/v1/enrolments", headers=registrar(gateway)), 405)
        assert body["instance"] == "/v1/enrolments"
        assert "POST" in identity_allow(await identity.client.put("/v1/enrolments", headers=registrar(gateway)))

    async def test_a_wrong_method_through_the_gateway_names_the_gateway_path(
        self, database_url, tmp_path, clock
    ) -> None:
        async with GatewayBeforeIdentity(database_url, tmp_path, clock) as client:
            response = await client.delete("/identity/v1/enrolments")
            body = assert_problem(response, 405)
            assert body["instance"] == "/identity/v1/enrolments"
            assert "POST" in response.headers["allow"]
            nul = assert_problem(await client.get("/identity/v1/persons/per_%00"), 422)
            assert nul["instance"] == "/identity/v1/persons/per_\x00"


def test_text_is_bounded_by_its_column_and_never_holds_a_nul() -> None:
    from pydantic import TypeAdapter, ValidationError

    from services.common.edge import Text

    adapter = TypeAdapter(Text(5))
    assert adapter.validate_python("Amara") == "Amara"
    for bad in ("Amaras", "Am\x00"):
        with pytest.raises(ValidationError):
            adapter.validate_python(bad)


def identity_allow(response: httpx.Response) -> str:
    assert response.status_code == 405
    return response.headers["allow"]


class _Registrar:
    async def authenticate(self, request: Request) -> AuthenticatedCaller:
        return AuthenticatedCaller(client_id="registry-office", roles=("registrar",))


class GatewayBeforeIdentity:
    """The gateway in front of an identity app on the test's backend (embedded, in-process)."""

    def __init__(self, database_url: str, tmp_path: Any, clock: Any) -> None:
        self.database_url, self.tmp_path, self.clock = database_url, tmp_path, clock
        self.schemas: list[str] = []

    async def __aenter__(self) -> httpx.AsyncClient:
        import uuid

        from gateway.app import create_app as create_gateway
        from gateway.config import GatewaySettings

        upstream: dict[str, FastAPI] = {}
        values: dict[str, Any] = {"var_dir": self.tmp_path, "replay_store": ReplayStore.database}
        if self.database_url == "sqlite":
            values["database_url"] = f"sqlite+aiosqlite:///{self.tmp_path / 'identity.db'}"
        else:
            values |= {"database_url": self.database_url, "database_schema": f"t_{uuid.uuid4().hex[:16]}_identity"}
            self.schemas.append(values["database_schema"])
        settings = entry("identity").settings_class(_env_file=None, **values)
        engine = create_engine(settings.resolved_database_url, schema=settings.resolved_schema)
        await create_all(engine, _metadata_of("identity"), settings.resolved_schema)
        await engine.dispose()
        gateway_settings = GatewaySettings(
            _env_file=None, var_dir=self.tmp_path, database_url=f"sqlite+aiosqlite:///{self.tmp_path / 'gw.db'}"
        )
        self.gateway = create_gateway(
            gateway_settings, clock=self.clock, upstream_apps=upstream, authenticator=_Registrar()
        )
        engine = create_engine(gateway_settings.resolved_database_url)
        await create_all(engine, _metadata_of("gateway"))
        await engine.dispose()
        jwks = StaticJwks(self.gateway.state.signing_key.jwks())
        upstream["identity"] = entry("identity").factory(settings, clock=self.clock, gateway_jwks=jwks)
        self.lifespan = self.gateway.router.lifespan_context(self.gateway)
        await self.lifespan.__aenter__()
        transport = httpx.ASGITransport(app=self.gateway, raise_app_exceptions=False)
        self.client = httpx.AsyncClient(transport=transport, base_url="http://gateway")
        return self.client

    async def __aexit__(self, *exc: object) -> None:
        await self.client.aclose()
        await self.lifespan.__aexit__(None, None, None)
        for schema in self.schemas:
            from sqlalchemy import text

            engine = create_engine(self.database_url)
            async with engine.begin() as conn:
                await conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            await engine.dispose()


class _DataError(Exception):
    sqlstate = "22001"  # string_data_right_truncation, as asyncpg reports it


async def test_a_value_the_database_refuses_as_data_is_422_not_500() -> None:
    """The backstop behind the schemas: a data exception from the database is the caller's bad input."""
    app = FastAPI()
    install_problem_handlers(app)

    @app.get("/write")
    async def write() -> None:
        raise DBAPIError("INSERT ...", {"value": "x" * 300}, _DataError())

    @app.get("/broken")
    async def broken() -> None:
        raise DBAPIError("SELECT ...", {}, Exception("connection lost"))

    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
        body = assert_problem(await client.get("/write"), 422)
        assert "x" * 20 not in str(body)
        assert_problem(await client.get("/broken"), 500)


def _unbounded_inputs(operation: dict[str, Any], components: dict[str, Any]) -> list[str]:
    found: list[str] = []
    for parameter in operation.get("parameters", []):
        if parameter["in"] in ("query", "header"):
            _walk(parameter.get("schema", {}), components, f"{parameter['in']}:{parameter['name']}", found, set())
    for content in operation.get("requestBody", {}).get("content", {}).values():
        _walk(content.get("schema", {}), components, "body", found, set())
    return found


def _walk(schema: dict[str, Any], components: dict[str, Any], where: str, found: list[str], seen: set[str]) -> None:
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name not in seen:
            _walk(components[name], components, where, found, seen | {name})
        return
    for key in ("anyOf", "oneOf", "allOf"):
        for sub in schema.get(key, []):
            _walk(sub, components, where, found, seen)
    bounded = {"maxLength", "enum", "const", "pattern"} & set(schema) or schema.get("format") in ("date", "date-time")
    if schema.get("type") == "string" and not bounded:
        found.append(where)
    for name, sub in schema.get("properties", {}).items():
        _walk(sub, components, f"{where}.{name}", found, seen)
    if isinstance(schema.get("additionalProperties"), dict):
        _walk(schema["additionalProperties"], components, f"{where}.*", found, seen)
    if isinstance(schema.get("items"), dict):
        _walk(schema["items"], components, f"{where}[]", found, seen)
