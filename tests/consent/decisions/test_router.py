"""The decision route's short way (DecisionRoute) answers exactly as FastAPI's own handler does."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.common.edge import EdgeRoute
from services.consent.decisions.router import DecisionRoute
from tests.consent.consent_helpers import GATEWAY, RP, SUBJECT
from tests.kit.callers import caller_headers

QUESTION = {"requester": RP, "subject": "sub_amara", "purpose": "NOT_REGISTERED", "items": ["household_size"]}
BODIES = [
    json.dumps(QUESTION).encode(),  # well formed: a deny naming SG-PURPOSE-1
    b"",
    b"not json",
    b"[]",
    b'"a string"',
    b'{"requester": "rp"',
    json.dumps({k: v for k, v in QUESTION.items() if k != "items"}).encode(),
    json.dumps({**QUESTION, "surprise": 1}).encode(),
    json.dumps({**QUESTION, "items": []}).encode(),
    json.dumps({**QUESTION, "items": ["x"] * 101}).encode(),
    json.dumps({**QUESTION, "at": "yesterday"}).encode(),
    json.dumps({**QUESTION, "dry_run": "perhaps"}).encode(),
    json.dumps({**QUESTION, "subject": 7}).encode(),
    json.dumps({**QUESTION, "requester": "r" * 5000}).encode(),
    '{"requester": "\ud800"}'.encode("utf-8", "surrogatepass"),  # not UTF-8: the edge refuses it, for anyone
]


def _comparable(response: Any) -> tuple[int, str, dict[str, Any]]:
    body = response.json()
    body.pop("request_id", None)
    body.pop("decision_id", None)
    return response.status_code, response.headers["content-type"], body


async def _answers(svc: Any, roles: tuple[str, ...]) -> list[tuple[int, str, dict[str, Any]]]:
    headers = {**caller_headers(client_id="dpi-gateway", roles=roles), "Content-Type": "application/json"}
    return [_comparable(await svc.client.post("/v1/decisions", content=body, headers=headers)) for body in BODIES]


@pytest.mark.rule("SG-SEC-1")
async def test_every_answer_is_the_one_fastapis_handler_gives(consent_svc, service_factory, monkeypatch):
    short_way = await _answers(consent_svc, GATEWAY) + await _answers(consent_svc, SUBJECT)
    # The route's handler is built when an app first routes a request (above), so the app built now, with the
    # short way switched off, answers through FastAPI's handler alone.
    monkeypatch.setattr(DecisionRoute, "endpoint_handler", EdgeRoute.endpoint_handler)
    standard = await service_factory("consent", expiry_interval_seconds=0)
    assert await _answers(standard, GATEWAY) + await _answers(standard, SUBJECT) == short_way
    statuses = [status for status, _, _ in short_way]
    assert statuses[0] == 200 and short_way[0][2]["rule_id"] == "SG-PURPOSE-1"
    assert set(statuses[1 : len(BODIES)]) == {422}, "every malformed question is refused whole"
    # Another role is refused under SG-SEC-1 whatever the question, unless the body is no JSON at all (FastAPI
    # parses it before it asks for the role) or no UTF-8 (the edge).
    refused = short_way[len(BODIES) :]
    assert refused[0][0] == 403 and refused[0][2]["rule_id"] == "SG-SEC-1"
    assert {(status, body.get("rule_id")) for status, _, body in refused} == {(403, "SG-SEC-1"), (422, None)}
