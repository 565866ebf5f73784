"""Schemathesis through the gateway, with the credentials a user would hold: every service's OpenAPI operations,
called at the gateway under their prefix, the gateway's own operations, and the aggregated document. No input makes
the gateway or a service behind it answer 5xx, and every answer matches the schema the document gives.

Nothing is stood in: the embedded sandbox serves on a real socket, and every request carries a credential the
gateway itself issued or accepts. Organisations are the sandbox's registered, approved demo clients, which get
their access tokens from the gateway's token endpoint by OAuth2 client credentials with private_key_jwt, and sign a
DPoP proof for every request when their tokens are DPoP-bound (FSPs and programmes); a citizen signs in at
identity's OpenID provider (authorization code + PKCE, the one-time code read from the messaging simulator) and
presents the ID token on the person's own (`/me`) routes. Each operation is called by a caller it admits (the
route table's roles), so authentication, the rule engine and the services all decide for real; that the caller
was admitted is checked too, so the fuzz cannot quietly turn into a run of 401s and 403s.

Deterministic (hypothesis derandomized, no example database) and bounded: DPI_FUZZ_EXAMPLES examples per operation
(5 by default) for each service's and the gateway's document, and one per operation for the aggregated one, which
holds the same operations under the gateway's security schemes and problem answers. docs/governance.md gives the
longer run.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import requests
import schemathesis
import uvicorn
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from dpi_sandbox.embedded import all_settings, build_embedded, upgrade_all
from gateway.rules.engine import READ_ONLY_ROLES
from gateway.rules.routes import RouteTable, load_routes
from playbook.credentials import ClientCredentials
from playbook.model import Actor

EXAMPLES = int(os.environ.get("DPI_FUZZ_EXAMPLES", "5"))
SERVICES = ("identity", "payments", "consent", "exchange")
CITIZEN = "citizen"
# The gateway's own operations, by path prefix (longest first): who calls them. The data protection authority
# (oversight) reads and acts on the audit log, the client registry, breaches and grievances; the channels have
# their operators; the token endpoint takes the client's assertion in its form, no Authorization.
GATEWAY_CALLERS = (
    ("/me/", CITIZEN),
    ("/channels/assisted/", "demo-field-agent"),
    ("/channels/ussd", "demo-ussd-aggregator"),
    ("/oauth2/", None),
    ("/", "demo-oversight"),
)
# The fuzz is not a test of the rate limits (tests/gateway/auth/test_rate_limits.py is): one client makes more
# requests here in a minute than the default limit allows. The citizen signs in once, before the fuzz, and keeps
# the ID token for the whole run: the fuzz itself asks for one-time codes for the person (POST
# /identity/v1/authn/otp), and may use up the send limit that a second sign-in would need.
OVERRIDES: dict[str, dict[str, Any]] = {
    "gateway": {"rate_limit_per_client": 1_000_000},
    "identity": {"oidc_token_ttl_seconds": 86_400},
}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Sandbox:
    url: str
    loop: asyncio.AbstractEventLoop
    credentials: ClientCredentials
    roles: dict[str, list[str]] = field(default_factory=dict)  # the demo clients', as the client registry lists them
    citizen: Actor | None = None  # signed in once the fixture has enrolled the person
    routes: RouteTable = field(default_factory=load_routes)
    session: requests.Session = field(default_factory=requests.Session)

    def caller_for(self, method: str, path: str) -> tuple[str | None, bool]:
        """Who calls the operation `method path` (a gateway path): a demo client the operation admits, the
        citizen, or nobody (a public operation); and whether the gateway must admit them (not on an operation the
        route table does not declare, which it refuses whoever calls)."""
        service, _, rest = path.lstrip("/").partition("/")
        if service not in SERVICES:
            return next(caller for prefix, caller in GATEWAY_CALLERS if path.startswith(prefix)), True
        found = self.routes.match(service, method, "/" + rest)
        if found is None:
            return "demo-oversight", False
        if found.route.access != "authenticated":
            return None, True
        for role in found.route.roles:
            if method != "GET" and role in READ_ONLY_ROLES:
                continue
            if role == "subject":
                return CITIZEN, True
            return next(client for client, roles in self.roles.items() if role in roles), True
        raise AssertionError(f"no demo client may call {method} {path}")

    def headers(self, caller: str | None, method: str, url: str) -> dict[str, str]:
        if caller is None:
            return {}
        actor = self.citizen if caller == CITIZEN else Actor(label=caller, kind="client", client=caller)
        assert actor is not None, "the citizen is not enrolled yet"
        request = httpx.Request(method, url)
        return self.loop.run_until_complete(self.credentials.headers(caller, actor, request))


def _enrol_citizen(sandbox: Sandbox) -> str:
    """A person enrolled by the registrar's office through the gateway, with a VID to sign in with."""
    body = {
        "given_name": "Fuzz", "family_name": "Tester", "date_of_birth": "1990-01-01", "phone": "+000 555 0100",
        "residency_status": "citizen", "consents": {"notices": True}, "issue_vid": True,
    }  # fmt: skip
    url = sandbox.url + "/identity/v1/enrolments"
    headers = sandbox.headers("demo-registrar", "POST", url)
    enrolled = httpx.post(url, json=body, headers=headers, timeout=60)
    assert enrolled.status_code == 201, enrolled.text
    return str(enrolled.json()["vid"])


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    var_dir: Path = tmp_path_factory.mktemp("fuzz-gateway")
    asyncio.run(upgrade_all(all_settings(var_dir, OVERRIDES)))
    app = build_embedded(var_dir=var_dir, overrides=OVERRIDES)
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline, "the sandbox did not start"
        time.sleep(0.05)
    url = f"http://127.0.0.1:{port}"
    loop = asyncio.new_event_loop()
    http = httpx.AsyncClient(base_url=url, timeout=60)
    credentials = ClientCredentials.for_sandbox(http, var_dir)
    try:
        sandbox = Sandbox(url, loop, credentials)
        listed = httpx.get(url + "/clients", headers=sandbox.headers("demo-oversight", "GET", url + "/clients"))
        assert listed.status_code == 200, listed.text
        sandbox.roles = {c["client_id"]: c["roles"] for c in listed.json()["items"] if c["status"] == "approved"}
        sandbox.citizen = Actor(label="a resident", kind="citizen", signs_in_with=_enrol_citizen(sandbox))
        sandbox.headers(CITIZEN, "GET", url + "/me/access-log")  # signs in once, before the fuzz
        yield sandbox
    finally:
        loop.run_until_complete(http.aclose())
        loop.close()
        server.should_exit = True
        thread.join(timeout=20)


def _refused_the_caller(response: Any) -> bool:
    """The gateway turned the caller away for who they are: their credential (401), or a role or scope the
    operation does not admit (403 SG-SEC-1, SG-OVERSIGHT-1)."""
    try:
        body = response.json()
    except ValueError:
        return False
    if not isinstance(body, dict):
        return False
    if response.status_code == 401:
        return str(body.get("code", "")).startswith("gateway.")
    refusal = str(body.get("detail", ""))
    return response.status_code == 403 and (
        body.get("rule_id") == "SG-OVERSIGHT-1"
        or (body.get("rule_id") == "SG-SEC-1" and ("roles" in refusal or "scopes" in refusal))
    )


CHECKS = [not_a_server_error, status_code_conformance, response_schema_conformance, content_type_conformance]


def _fuzz(sandbox: Sandbox, document: dict[str, Any], prefix: str = "", examples: int = EXAMPLES) -> list[str]:
    """Every operation of `document` (served at the gateway under `prefix`), `examples` cases each, each sent by
    the operation's caller; the operations exercised. Fails, naming every operation at fault, on a 5xx or an
    answer the document does not allow (status, content type, schema), and on an operation whose caller the
    gateway turned away on every case (the caller chosen is not one it admits: the fuzz never got past the door)."""
    schema = schemathesis.openapi.from_dict(document)
    base_url = sandbox.url + prefix
    exercised: list[str] = []
    failures: list[str] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        method = operation.method.upper()
        name = f"{method} {prefix}{operation.path}"
        caller, admitted = sandbox.caller_for(method, prefix + operation.path)
        refused: list[bool] = []
        try:
            _fuzz_operation(sandbox, operation, base_url, caller, examples, refused)
        except Exception as failure:  # every operation is fuzzed; the test names all that failed
            failures.append(f"{name} as {caller}: {_first_cause(failure)}")
        exercised.append(f"{method} {operation.path}")
        if admitted and refused and all(refused):
            failures.append(f"{name}: the gateway turned {caller} away on every case")
    assert not failures, f"{len(failures)} of {len(exercised)} operations failed:\n" + "\n".join(failures)
    return exercised


def _fuzz_operation(
    sandbox: Sandbox, operation: Any, base_url: str, caller: str | None, examples: int, refused: list[bool]
) -> None:
    """`examples` cases of one operation, sent by `caller`; whether the gateway turned the caller away, per case,
    into `refused`."""
    method = operation.method.upper()

    @given(case=operation.as_strategy())
    @settings(
        max_examples=examples, deadline=None, derandomize=True, database=None, suppress_health_check=list(HealthCheck)
    )
    def fuzz(case: Any) -> None:
        url = case.as_transport_kwargs(base_url=base_url)["url"]
        headers = sandbox.headers(caller, method, url)
        response = case.call(base_url=base_url, session=sandbox.session, headers=headers)
        refused.append(caller is not None and _refused_the_caller(response))
        case.validate_response(response, checks=CHECKS)

    fuzz()


def _first_cause(failure: BaseException) -> str:
    """What went wrong, unwrapped from hypothesis's and schemathesis's groups (a failure hypothesis could not
    reproduce comes as a group holding the first one): its summary, the answer and the curl to reproduce it."""
    shown = str(failure)
    while isinstance(failure, BaseExceptionGroup) and failure.exceptions:
        failure = failure.exceptions[0]
        shown += f"\n    {failure}"
    return shown[:3000]


def _document(sandbox: Sandbox, path: str) -> dict[str, Any]:
    response = httpx.get(sandbox.url + path, timeout=120)
    assert response.status_code == 200, response.text
    return json.loads(response.text)  # type: ignore[no-any-return]


@pytest.mark.parametrize("service", SERVICES)
def test_no_input_through_the_gateway_makes_anything_fail(sandbox: Sandbox, service: str) -> None:
    exercised = _fuzz(sandbox, _document(sandbox, f"/{service}/openapi.json"), f"/{service}")
    assert "GET /healthz" in exercised


def test_no_input_to_the_gateways_own_operations_makes_it_fail(sandbox: Sandbox) -> None:
    exercised = _fuzz(sandbox, _document(sandbox, "/openapi/gateway.json"))  # the gateway's own (/openapi.json: all)
    assert "POST /governance/decide" in exercised


def test_no_input_through_the_aggregated_document_makes_anything_fail(sandbox: Sandbox) -> None:
    """The document a developer reads at /openapi.json (every service under its prefix, with the gateway's security
    schemes and problem answers): its answers match it too. One example each: the operations are the ones above."""
    exercised = _fuzz(sandbox, _document(sandbox, "/openapi.json"), examples=max(1, EXAMPLES // 5))
    assert {"POST /identity/v1/kyc", "GET /payments/v1/parties/{party_id_type}/{party_identifier}"} <= set(exercised)
    assert "POST /governance/decide" in exercised
