"""The fetch's short way (FetchRoute) answers exactly as FastAPI's own handler does, logs the same entries, and is the
way taken."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from fastapi import Request

from services.common.edge import EdgeRoute
from services.exchange.deps import get_runtime
from services.exchange.fetch.router import FetchRoute
from tests.exchange.exchange_helpers import (
    ADMIN,
    BENEFIT_CHECK,
    CIVIL,
    OVERSIGHT,
    POLICE,
    RP,
    SOCIAL,
    ExchangeApi,
    table_rows,
)

AMARA = "sub_amara"
RP_ID = "rp-benefits"
POLICE_ID = "le-police"
INVESTIGATION = "CRIMINAL_INVESTIGATION"
WANTED = ["given_name", "date_of_birth", "ethnicity"]

FETCH = {"service": CIVIL, "fields": ["given_name", "date_of_birth"]}
BODIES = [
    json.dumps(FETCH).encode(),  # well formed: released under consent, or within the court order
    json.dumps({"service": CIVIL}).encode(),  # every field the caller may receive
    json.dumps({"service": CIVIL, "fields": [*WANTED, "no_such_field"]}).encode(),  # some withheld, with their rules
    json.dumps({**FETCH, "retain": True}).encode(),  # stored with its log entries, in one transaction
    json.dumps({"service": SOCIAL}).encode(),  # not granted to the police: SG-SEC-1
    json.dumps({"service": "SBX:GOV:NONE:nothing:v1"}).encode(),  # 404
    json.dumps({"service": CIVIL, "fields": ["ethnicity"]}).encode(),  # nothing releasable: SG-MIN-1 or NONDISC-1
    b'{"service": "SBX:GOV:NONE:nothing:v1", "service": "' + CIVIL.encode() + b'"}',  # a repeated key: the last
    json.dumps({**FETCH, "retain": "true"}).encode(),  # a bool's lax string, as both parsers take it
    b"",
    b"not json",
    b"[]",
    b'"a string"',
    b'{"service": ',
    json.dumps({**FETCH, "surprise": 1}).encode(),
    json.dumps({"fields": ["given_name"]}).encode(),
    json.dumps({"service": ""}).encode(),
    json.dumps({"service": "s" * 241}).encode(),
    json.dumps({"service": CIVIL, "fields": "given_name"}).encode(),
    json.dumps({"service": CIVIL, "fields": ["given_name"] * 101}).encode(),
    json.dumps({"service": CIVIL, "fields": ["Not A Field!"]}).encode(),
    json.dumps({**FETCH, "retain": "perhaps"}).encode(),
    json.dumps({"service": 7}).encode(),
    '{"service": "\ud800"}'.encode("utf-8", "surrogatepass"),  # not UTF-8: the edge refuses it, for anyone
]


async def _world(api: ExchangeApi) -> dict[str, Any]:
    """A person, a consumer under consent, the police with a court order; the callers' contexts."""
    await api.birth(AMARA)
    await api.consumer(RP_ID, grants={CIVIL: (WANTED, [BENEFIT_CHECK])})
    await api.consumer(
        POLICE_ID, member="POLICE", member_class="LAW", grants={CIVIL: ([*WANTED, "family_name"], [INVESTIGATION])}
    )
    now = api.gateway.clock.now()
    order = await api.ok(
        "POST",
        "/v1/court-orders",
        201,
        roles=OVERSIGHT,
        json={
            "reference": "HC/2026/117",
            "court": "High Court (sandbox)",
            "subject": AMARA,
            "member_id": "SBX:LAW:POLICE",
            "services": [CIVIL],
            "fields": ["given_name", "date_of_birth"],
            "expires_at": (now + timedelta(days=30)).isoformat(),
            "disclose_after": (now + timedelta(days=60)).isoformat(),
        },
    )
    consent = {"client_id": RP_ID, "purpose": BENEFIT_CHECK, "legal_basis": "consent", "consent_id": "cns_1"}
    consent |= {"consented_items": ("given_name", "date_of_birth", "ethnicity"), "decision_id": "dec_1"}
    police = {"client_id": POLICE_ID, "purpose": INVESTIGATION, "legal_basis": "court_order"}
    return {
        "consent": {"roles": RP, "subject_ref": AMARA, **consent},
        "court order": {"roles": POLICE, "subject_ref": AMARA, "court_order_id": order["id"], **police},
        "no order": {"roles": POLICE, "subject_ref": AMARA, **police},
        "admin": {"roles": ADMIN, "subject_ref": AMARA, **consent},
        "no role": {"roles": (), "subject_ref": AMARA, **consent},
    }


def _comparable(response: Any) -> tuple[Any, ...]:
    body = response.json()
    for volatile in ("request_id", "message_id"):  # new for every request
        body.pop(volatile, None)
    if isinstance(body.get("stored_payload"), dict):
        body["stored_payload"].pop("id")
    headers = {
        name: response.headers.get(name)
        for name in ("content-type", "x-dpi-fields-returned", "x-dpi-disclose-after", "www-authenticate")
    }
    return response.status_code, headers, body


async def _answers(api: ExchangeApi, contexts: dict[str, Any]) -> list[tuple[Any, ...]]:
    answers = []
    for context in contexts.values():
        for body in BODIES:
            headers = api.gateway.headers("exchange", **context) | {"content-type": "application/json"}
            answers.append(_comparable(await api.svc.client.post("/v1/fetch", content=body, headers=headers)))
    return answers


async def _logged(api: ExchangeApi) -> list[dict[str, Any]]:
    """Each chain's entries in order, less what is new for every request (and so every hash over it)."""
    rows = sorted(await table_rows(api.svc, "message_log"), key=lambda row: (row["chain"], row["seq"]))
    volatile = {"message_id", "logged_at", "prev_hash", "court_order_id"}
    volatile_by_chain = {"consumer": {"request_hash", "response_hash"}, "provider": set()}
    return [
        {k: v for k, v in row["record"].items() if k not in volatile | volatile_by_chain[row["chain"]]} for row in rows
    ]


async def _stored(api: ExchangeApi) -> list[dict[str, Any]]:
    rows = await table_rows(api.svc, "stored_payloads")
    return sorted(({k: v for k, v in row.items() if k not in ("id", "message_id")} for row in rows), key=str)


@pytest.mark.rule("SG-SEC-1")
@pytest.mark.rule("SG-LAWFUL-1")
async def test_every_answer_and_entry_is_the_one_fastapis_handler_gives(
    api, gateway, service_factory, monkeypatch, database_url, tmp_path
):
    short_way = await _answers(api, await _world(api))
    # The route's handler is built when an app first routes a request (above), so the app built now, with the
    # short way switched off, answers through FastAPI's handler alone.
    monkeypatch.setattr(FetchRoute, "endpoint_handler", EdgeRoute.endpoint_handler)
    # A database of its own (PostgreSQL: each app has its own schema already), so both logs start empty.
    own = {"database_url": f"sqlite+aiosqlite:///{tmp_path / 'standard.db'}"} if database_url == "sqlite" else {}
    standard = ExchangeApi(await service_factory("exchange", **own), gateway)
    assert await _answers(standard, await _world(standard)) == short_way
    assert await _logged(standard) == await _logged(api)
    assert await _stored(standard) == await _stored(api)
    assert len(await _stored(api)) == 4, "retain, and retain as a lax string, under consent and under the order"

    per_caller = len(BODIES)
    consent, order, no_order, admin, no_role = (
        short_way[i : i + per_caller] for i in range(0, len(short_way), per_caller)
    )
    for allowed in (consent, order):
        assert [status for status, _, _ in allowed[:9]] == [200, 200, 200, 200, 403, 404, 403, 200, 200]
        assert allowed[0][2]["record"] == {"given_name": "Amara", "date_of_birth": "1990-04-02"}
        assert allowed[0][1]["x-dpi-fields-returned"] == "given_name,date_of_birth"
        assert {status for status, _, _ in allowed[9:]} == {422}, "every malformed body is refused whole"
    assert consent[2][2]["withheld"] == [
        {"field": "no_such_field", "rule_id": "SG-MIN-1"},  # not offered
        {"field": "ethnicity", "rule_id": "SG-NONDISC-1"},  # granted and consented, but protected
    ]
    assert order[0][1]["x-dpi-disclose-after"] is not None and consent[0][1]["x-dpi-disclose-after"] is None
    assert [status for status, _, _ in no_order[:9]] == [403] * 5 + [404] + [403] * 3
    assert {body["rule_id"] for status, _, body in no_order[:9] if status == 403} == {"SG-LAWFUL-1", "SG-SEC-1"}
    # Another role is refused under SG-SEC-1 whatever the body, unless the body is no JSON at all (FastAPI parses
    # it before it asks for the role) or no UTF-8 (the edge).
    for refused in (admin, no_role):
        assert {(status, body.get("rule_id")) for status, _, body in refused} == {(403, "SG-SEC-1"), (422, None)}


async def test_a_well_formed_fetch_takes_the_short_way(api):
    """FastAPI's handler solves the endpoint's dependencies; the short way does not. A well-formed fetch answers
    without the runtime dependency being asked for; a malformed one reaches FastAPI's handler and its dependencies."""
    contexts = await _world(api)
    asked: list[str] = []

    def runtime_spy(request: Request) -> Any:
        asked.append(request.url.path)
        return request.app.state.exchange

    api.svc.app.dependency_overrides[get_runtime] = runtime_spy
    try:
        headers = api.gateway.headers("exchange", **contexts["consent"])
        fetched = await api.svc.client.post("/v1/fetch", json=FETCH, headers=headers)
        assert fetched.status_code == 200, fetched.text
        assert asked == []
        headers = api.gateway.headers("exchange", **contexts["consent"])
        refused = await api.svc.client.post("/v1/fetch", json={**FETCH, "surprise": 1}, headers=headers)
        assert refused.status_code == 422
        assert asked == ["/v1/fetch"]
    finally:
        api.svc.app.dependency_overrides.clear()
