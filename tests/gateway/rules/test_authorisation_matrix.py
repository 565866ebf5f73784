"""The authorisation matrix: every declared route by every role, answered by the gateway exactly as the table in the
repository says (gateway/rules/matrix.py, rendered on docs/governance.md). A refused cell never reaches the service."""

from __future__ import annotations

import re

import pytest

from gateway.rules.matrix import block, expected, rendered_in_docs
from gateway.rules.routes import load_routes
from tests.gateway.conftest import Edge
from tests.gateway.edge import as_caller

_PARAM = re.compile(r"\{[a-z_]+\}")


@pytest.mark.rule("SG-SEC-1")
@pytest.mark.rule("SG-OVERSIGHT-1")
async def test_every_route_and_role_is_answered_as_the_matrix_says(full_edge: Edge) -> None:
    edge = full_edge
    table = load_routes()
    mismatches: list[str] = []
    cells = 0
    for route in table:
        if route.access != "authenticated":
            continue
        path = _PARAM.sub("x1", route.gateway_path)
        for role in table.roles:
            cells += 1
            cell = expected(route, role)
            before = sum(edge.upstream[route.service].calls.values())
            response = await edge.client.request(
                route.method, path, json={} if route.is_write else None, headers=as_caller(f"role:{role}")
            )
            body = response.json() if response.headers.get("content-type", "").endswith("json") else {}
            called = sum(edge.upstream[route.service].calls.values()) != before
            # the gateway's own refusal: its rule, and the service never called (a service may refuse too)
            refused_by = body.get("rule_id") if response.status_code == 403 and not called else None
            if cell.admitted:
                if refused_by in ("SG-SEC-1", "SG-OVERSIGHT-1"):
                    mismatches.append(f"{route.id} by {role}: expected admitted, got 403 {refused_by}")
            elif refused_by != cell.rule_id:
                mismatches.append(
                    f"{route.id} by {role}: expected 403 {cell.rule_id} at the gateway, got {response.status_code}"
                    + (" from the service" if called else "")
                )
    assert cells == len([r for r in table if r.access == "authenticated"]) * len(table.roles)
    assert not mismatches, "\n".join(mismatches)


def test_the_governance_page_renders_the_matrix_from_the_route_table() -> None:
    assert rendered_in_docs() == block(), "run: python -m gateway.rules.matrix --write"
