"""SG-OVERSIGHT-1, acceptance 4 of the people-and-oversight issue: the auditor inspects everything and changes
nothing. Every write operation (POST, PUT, PATCH, DELETE) the gateway offers is tried as an auditor, generated from
the route table (`gateway/rules/routes.yaml`) and the aggregated OpenAPI document (the gateway's own operations and
every service's), so a route added later is covered without touching this test. None is allowed: each answers 403
naming SG-OVERSIGHT-1 or SG-SEC-1, no service behind the gateway is called, and no row of the gateway's own
database changes but the audit log's record of the refusal. The same is tried as oversight on every write operation
that does not admit oversight."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import func, select

from gateway.audit.models import AUDIT_TABLES
from gateway.db import metadata
from gateway.rules.routes import load_routes
from tests.gateway.conftest import Edge
from tests.gateway.edge import as_caller

WRITES = ("post", "put", "patch", "delete")
REFUSALS = {"SG-OVERSIGHT-1", "SG-SEC-1"}
PROXY = "/{service}/{path}"
# Operations that POST a question and change nothing (what they do is checked below: no row changes).
QUESTIONS = {
    ("POST", "/governance/decide"): "the dry run: evaluates the rules, calls no provider, records itself as a dry run",
    ("POST", "/oauth2/token"): "the way in: every caller, auditors too, signs in here with its own key",
}
# The audit log answers 405 to every update or delete, whoever asks.
REFUSED_TO_EVERYONE = {("PATCH", "/audit/{path}"), ("PUT", "/audit/{path}"), ("DELETE", "/audit/{path}")}
# The gateway's own write operations that admit oversight (the proxied ones say so in routes.yaml).
OVERSIGHT_WRITES = {
    ("POST", "/clients"), ("POST", "/clients/{client_id}/approve"), ("POST", "/clients/{client_id}/suspend"),
    ("POST", "/audit/checkpoint"), ("POST", "/audit/witness/verdicts"),
    ("POST", "/grievances/{grievance_id}/transitions"), ("POST", "/grievances/escalations"),
    ("POST", "/oversight/breaches"), ("POST", "/oversight/breaches/{incident_id}/reissue"),
}  # fmt: skip
# The audit log's own tables: it records every refusal, and signs and witnesses checkpoints on its own cadence.
AUDIT_LOG = {table.name for table in vars(AUDIT_TABLES).values()}
_ID_PATTERN = re.compile(r"^\^?([a-z]+)_\[0-9a-f\]\{(\d+)\}\$?$")


@dataclass(frozen=True)
class Operation:
    method: str
    template: str
    path: str  # with every parameter filled in
    roles: tuple[str, ...] | None  # declared in routes.yaml; None for the gateway's own operations
    access: str = "authenticated"


def _filled(template: str, parameters: list[dict[str, Any]]) -> str:
    """The template with each path parameter replaced by a value of the right shape (an id of its prefix)."""
    patterns = {p["name"]: p.get("schema", {}).get("pattern", "") for p in parameters if p.get("in") == "path"}

    def value(found: re.Match[str]) -> str:
        shaped = _ID_PATTERN.match(patterns.get(found.group(1), ""))
        return f"{shaped.group(1)}_{'0' * int(shaped.group(2))}" if shaped else "x1"

    return re.sub(r"\{([^}]+)\}", value, template)


def operations(document: dict[str, Any]) -> Iterator[Operation]:
    """Every write operation of the aggregated document, with what routes.yaml declares about it; and every write
    route of routes.yaml, whether or not the document offers it."""
    routes = {(r.method, r.gateway_path): r for r in load_routes() if r.is_write}
    seen = set()
    for template, item in document["paths"].items():
        for method in WRITES:
            if method not in item or template == PROXY:
                continue
            key = (method.upper(), template)
            seen.add(key)
            route = routes.get(key)
            yield Operation(
                key[0], template, _filled(template, item[method].get("parameters", [])),
                route.roles if route else None, route.access if route else "authenticated",
            )  # fmt: skip
    for key, route in routes.items():
        if key not in seen:
            yield Operation(key[0], key[1], _filled(key[1], []), route.roles, route.access)


async def _rows(edge: Edge) -> dict[str, int]:
    """How many rows each table of the gateway's own database holds, but the audit log's."""
    async with edge.app.state.engine.connect() as conn:
        return {
            table.name: int(await conn.scalar(select(func.count()).select_from(table)) or 0)
            for table in metadata.sorted_tables
            if table.name not in AUDIT_LOG
        }


def _upstream_calls(edge: Edge) -> int:
    return sum(sum(transport.calls.values()) for transport in edge.upstream.values())


async def _try_every_write(edge: Edge, caller: str, *, admits: Any) -> list[Operation]:
    """Each write operation not admitting `caller` must be refused without effect; the operations tried."""
    document = (await edge.client.get("/openapi.json")).json()
    assert set(document["paths"]) >= {"/oversight/breaches", "/identity/v1/me/vids", "/payments/v1/transfers"}
    tried = []
    for op in operations(document):
        if (op.method, op.template) in QUESTIONS or admits(op):
            continue
        before_rows, before_calls = await _rows(edge), _upstream_calls(edge)
        response = await edge.client.request(op.method, op.path, json={}, headers=as_caller(caller))
        where = f"{op.method} {op.path} as {caller}: {response.status_code} {response.text[:200]}"
        if (op.method, op.template) in REFUSED_TO_EVERYONE:
            assert response.status_code == 405, where
        elif op.access == "anonymous":
            # No caller at the gateway: the service's own protocol (the OIDC browser flow) authenticates, and it
            # refuses a request without that protocol's credentials; the auditor's token counts for nothing here.
            assert 400 <= response.status_code < 500, where
            tried.append(op)
            continue
        else:
            assert response.status_code == 403, where
            assert response.json()["rule_id"] in REFUSALS, where
            if op.roles is not None and caller == "auditor" and "auditor" in op.roles:
                assert response.json()["rule_id"] == "SG-OVERSIGHT-1", where
        assert _upstream_calls(edge) == before_calls, f"{where}: a service was called"
        assert await _rows(edge) == before_rows, f"{where}: the gateway's database changed"
        tried.append(op)
    return tried


@pytest.mark.rule("SG-OVERSIGHT-1")
async def test_an_auditor_can_change_nothing_through_any_write_route(full_edge: Edge) -> None:
    tried = await _try_every_write(full_edge, "auditor", admits=lambda op: False)
    templates = {(op.method, op.template) for op in tried}
    declared = {(r.method, r.gateway_path) for r in load_routes() if r.is_write}
    assert declared <= templates, "every write route of routes.yaml was tried"
    assert templates >= OVERSIGHT_WRITES, "and every write operation of the gateway's own"
    assert ("POST", "/payments/v1/payments/{transaction_id}/disputes") in templates, "even one that names auditors"
    assert len(tried) > 60


@pytest.mark.rule("SG-OVERSIGHT-1")
@pytest.mark.rule("SG-SEC-1")
async def test_oversight_changes_only_what_oversight_is_for(full_edge: Edge) -> None:
    def admits(op: Operation) -> bool:
        if op.roles is not None:
            return "oversight" in op.roles
        return (op.method, op.template) in OVERSIGHT_WRITES

    tried = await _try_every_write(full_edge, "oversight", admits=admits)
    assert ("POST", "/me/grievances") in {(op.method, op.template) for op in tried}
    assert len(tried) > 50


def test_the_lists_of_exceptions_name_real_operations() -> None:
    """A renamed route must not leave an exception behind that no longer applies."""
    declared = {(r.method, r.gateway_path) for r in load_routes()}
    for key in (*QUESTIONS, *REFUSED_TO_EVERYONE, *OVERSIGHT_WRITES):
        assert key not in declared, f"{key} is the gateway's own, not a proxied route"
    assert all(method in {"POST", "PUT", "PATCH", "DELETE"} for method, _ in QUESTIONS)
