"""The resolve's short way (ResolveRoute) answers exactly as FastAPI's own handler does, and is the way taken."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import Request

from services.common.edge import EdgeRoute
from services.payments.deps import get_runtime
from services.payments.mapper.router import ResolveRoute
from tests.payments.payments_helpers import FSP, OPERATOR, PROGRAMME, SUBJECT, PaymentsApi, link_amara_and_a_token

QUERIES = [
    "ref=sub-amara",  # well formed: the default address
    "ref=sub-amara&ref_type=sub",
    "ref_type=sub&ref=sub-amara",
    "ref=ptk-9&ref_type=token",
    "ref=sub-amara&ref_type=token",  # a token nobody holds: 404 Unresolvable
    "ref=sub-nobody",  # 404 Unresolvable
    "ref=sub-nobody&ref=sub-amara",  # repeated: the last counts, as Starlette reads it
    "ref=sub-amara&page=2",  # a name the operation does not have is ignored
    "ref=sub%2Damara",  # percent-encoded
    "",
    "ref=",
    "ref_type=sub",
    "ref=" + "a" * 65,
    "ref=sub amara",
    "ref=sub/amara",
    "ref=sub-amara&ref_type=",
    "ref=sub-amara&ref_type=uin",
    "ref=sub%00amara",  # a NUL: the edge refuses it, for anyone
    "ref=%FF",
]


def _comparable(response: Any) -> tuple[int, str, str | None, Any]:
    body = response.json()
    if isinstance(body, dict):
        body.pop("request_id", None)
    return response.status_code, response.headers["content-type"], response.headers.get("x-dpi-fields-returned"), body


async def _answers(api: PaymentsApi, roles: tuple[str, ...]) -> list[tuple[int, str, str | None, Any]]:
    return [_comparable(await api.call("GET", f"/v1/mapper/resolve?{q}", roles=roles)) for q in QUERIES]


async def _every_answer(api: PaymentsApi) -> list[list[tuple[int, str, str | None, Any]]]:
    return [await _answers(api, roles) for roles in (PROGRAMME, FSP, OPERATOR, SUBJECT, ())]


@pytest.mark.rule("SG-SEC-1")
async def test_every_answer_is_the_one_fastapis_handler_gives(api, gateway, service_factory, monkeypatch):
    await link_amara_and_a_token(api)
    short_way = await _every_answer(api)
    # The route's handler is built when an app first routes a request (above), so the app built now, with the
    # short way switched off, answers through FastAPI's handler alone.
    monkeypatch.setattr(ResolveRoute, "endpoint_handler", EdgeRoute.endpoint_handler)
    standard_svc = await service_factory("payments", expiry_interval_seconds=0, bulk_interval_seconds=0)
    standard = PaymentsApi(standard_svc, gateway)
    await link_amara_and_a_token(standard)
    assert await _every_answer(standard) == short_way
    programme = short_way[0]
    assert [status for status, _, _, _ in programme[:9]] == [200, 200, 200, 200, 404, 404, 200, 200, 200]
    assert programme[0][2] == "fsp_id,address,address_kind"  # named to the gateway, which tells the person
    assert programme[0][3]["address"] == "1001" and programme[3][3]["address"] == "+000555901"
    assert {status for status, _, _, _ in programme[9:]} == {422}, "every malformed query is refused whole"
    assert short_way[1] == short_way[2] == programme, "FSPs and the operator resolve as programmes do"
    # A person, or a caller with no role: SG-SEC-1 whatever the query, unless the edge refuses it first (a NUL).
    nul = QUERIES.index("ref=sub%00amara")
    for refused in short_way[3:]:
        assert [status for status, _, _, _ in refused] == [422 if i == nul else 403 for i in range(len(QUERIES))]
        assert {body.get("rule_id") for i, (_, _, _, body) in enumerate(refused) if i != nul} == {"SG-SEC-1"}


async def test_a_well_formed_resolve_takes_the_short_way(api, payments):
    """FastAPI's handler solves the endpoint's dependencies; the short way does not. A well-formed resolve answers
    without the runtime dependency being asked for; a malformed one reaches FastAPI's handler and its dependencies."""
    await link_amara_and_a_token(api)
    asked: list[str] = []

    def runtime_spy(request: Request) -> Any:
        asked.append(str(request.url.query))
        return request.app.state.payments

    payments.app.dependency_overrides[get_runtime] = runtime_spy
    try:
        resolved = await api.call("GET", "/v1/mapper/resolve?ref=sub-amara", roles=PROGRAMME)
        assert resolved.status_code == 200 and resolved.json()["address"] == "1001"
        assert asked == []
        refused = await api.call("GET", "/v1/mapper/resolve?ref=sub-amara&ref_type=uin", roles=PROGRAMME)
        assert refused.status_code == 422
        assert asked == ["ref=sub-amara&ref_type=uin"]
    finally:
        payments.app.dependency_overrides.clear()
