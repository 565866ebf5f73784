"""Grievances: filed on any channel, handled within published time limits, escalated to oversight when late."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import text

from tests.gateway.oversight.conftest import as_

COMPLAINT = {"category": "data_access", "description": "A bank looked at my record and I never asked it to."}


async def _file(desk, who="amina", body=None, **headers):
    response = await desk.client.post("/me/grievances", json=body or COMPLAINT, headers=as_(who, **headers))
    assert response.status_code == 201, response.text
    return response.json()


async def _outbox(desk, subject):
    async with desk.app.state.engine.connect() as conn:
        rows = await conn.execute(text("SELECT payload FROM outbox WHERE subject = :s"), {"s": subject})
        return [row[0] for row in rows]


@pytest.mark.rule("SG-GRIEV-1")
@pytest.mark.parametrize("channel", ["web", "app", "ussd", "assisted"])
async def test_a_person_files_a_grievance_on_any_channel_and_gets_the_time_limits(desk, clock, channel):
    headers = {"X-Assisted-By": "field-agent-7"} if channel == "assisted" else {}
    ticket = await _file(desk, body={**COMPLAINT, "channel": channel}, **headers)
    assert ticket["status"] == "received"
    assert ticket["channel"] == channel
    assert ticket["assisted_by"] == ("field-agent-7" if channel == "assisted" else None)
    assert ticket["sla"]["acknowledge_by"] == (clock.now() + timedelta(hours=48)).isoformat().replace("+00:00", "Z")
    assert ticket["sla"]["resolve_by"] == (clock.now() + timedelta(days=30)).isoformat().replace("+00:00", "Z")
    mine = (await desk.client.get("/me/grievances", headers=as_("amina"))).json()
    assert [t["id"] for t in mine["items"]] == [ticket["id"]]
    assert len(await _outbox(desk, "gateway.grievance.received")) == 1


@pytest.mark.rule("SG-INCL-3")
async def test_an_assisted_grievance_must_name_the_operator(desk):
    response = await desk.client.post("/me/grievances", json={**COMPLAINT, "channel": "assisted"}, headers=as_("amina"))
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-INCL-3"


async def test_a_grievance_is_private_to_its_person(desk):
    ticket = await _file(desk)
    other = await desk.client.get(f"/me/grievances/{ticket['id']}", headers=as_("bilal"))
    assert other.status_code == 404
    assert (await desk.client.get("/me/grievances", headers=as_("bilal"))).json()["items"] == []
    assert (await desk.client.get("/me/grievances")).status_code == 401
    organisation = await desk.client.get("/me/grievances", headers=as_("bank"))
    assert organisation.status_code == 403
    assert organisation.json()["rule_id"] == "SG-SEC-1"


async def test_an_officer_acknowledges_reviews_and_resolves(desk):
    ticket = await _file(desk)
    path = f"/grievances/{ticket['id']}/transitions"
    for state in ("acknowledged", "in_review"):
        moved = await desk.client.post(path, json={"to": state}, headers=as_("officer"))
        assert moved.status_code == 200, moved.text
        assert moved.json()["status"] == state
    unexplained = await desk.client.post(path, json={"to": "resolved"}, headers=as_("officer"))
    assert unexplained.status_code == 409
    done = await desk.client.post(
        path, json={"to": "resolved", "note": "The bank's access was under consent cns-1."}, headers=as_("officer")
    )
    assert done.status_code == 200
    body = done.json()
    assert body["resolution"].startswith("The bank's access")
    assert [h["status"] for h in body["history"]] == ["received", "acknowledged", "in_review", "resolved"]
    again = await desk.client.post(path, json={"to": "in_review"}, headers=as_("officer"))
    assert again.status_code == 409
    seen = (await desk.client.get(f"/me/grievances/{ticket['id']}", headers=as_("amina"))).json()
    assert seen["status"] == "resolved"


async def test_a_person_cannot_handle_tickets(desk):
    ticket = await _file(desk)
    response = await desk.client.post(
        f"/grievances/{ticket['id']}/transitions", json={"to": "resolved", "note": "fine"}, headers=as_("amina")
    )
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-SEC-1"


@pytest.mark.rule("SG-GRIEV-2")
async def test_a_late_grievance_escalates_to_oversight_on_the_timer(desk, clock):
    late = await _file(desk)
    clock.advance(timedelta(hours=47))
    on_time = await _file(desk, who="bilal")
    clock.advance(timedelta(hours=2))  # 49 h after the first: its acknowledgement is late; the second's is not
    escalated = await desk.app.state.grievance_escalation.run_once()
    assert escalated == [late["id"]]
    assert await desk.app.state.grievance_escalation.run_once() == [], "escalated once"
    ticket = (await desk.client.get(f"/grievances/{late['id']}", headers=as_("auditor"))).json()
    assert ticket["status"] == "escalated"
    assert ticket["history"][-1]["actor"] == "sla-timer"
    assert (await desk.client.get(f"/me/grievances/{on_time['id']}", headers=as_("bilal"))).json()["status"] == (
        "received"
    )
    officer = await desk.client.post(
        f"/grievances/{late['id']}/transitions", json={"to": "in_review"}, headers=as_("officer")
    )
    assert officer.status_code == 403
    assert officer.json()["rule_id"] == "SG-GRIEV-2"
    board = await desk.client.post(
        f"/grievances/{late['id']}/transitions",
        json={"to": "resolved", "note": "Apology sent."},
        headers=as_("oversight"),
    )
    assert board.status_code == 200
    assert len(await _outbox(desk, "gateway.grievance.escalated")) == 1
    overdue_queue = await desk.client.get("/grievances", params={"overdue": "true"}, headers=as_("officer"))
    assert overdue_queue.json()["items"] == []


@pytest.mark.rule("SG-GRIEV-2")
async def test_concurrent_escalation_runs_escalate_each_ticket_once(desk, clock):
    tickets = [await _file(desk, who=("amina", "bilal")[i % 2]) for i in range(6)]
    clock.advance(timedelta(days=31))
    runs = await asyncio.gather(*(desk.app.state.grievance_escalation.run_once() for _ in range(4)))
    assert sorted(i for run in runs for i in run) == sorted(t["id"] for t in tickets)
    assert len(await _outbox(desk, "gateway.grievance.escalated")) == 6


@pytest.mark.rule("SG-GRIEV-4")
async def test_a_payment_dispute_names_its_signed_record_and_has_the_shorter_time_limit(desk, clock):
    dispute = await _file(
        desk,
        body={"category": "payment", "description": "My transfer never arrived.", "payment_record_id": "rec_123"},
    )
    assert dispute["related"]["payment_record_id"] == "rec_123"
    assert dispute["sla"]["resolve_by"] == (clock.now() + timedelta(days=10)).isoformat().replace("+00:00", "Z")
    announced = await _outbox(desk, "gateway.grievance.received")
    assert "rec_123" in str(announced)


async def test_the_service_standard_is_public(desk):
    response = await desk.client.get("/governance/grievance-standard")
    assert response.status_code == 200
    assert response.json()["acknowledge_within_hours"] == 48


async def test_bad_input_is_a_problem_not_a_crash(desk):
    for body in ({"category": "nope", "description": "x"}, {"category": "other", "description": ""}, {}):
        response = await desk.client.post("/me/grievances", json=body, headers=as_("amina"))
        assert response.status_code == 422
        assert response.headers["content-type"].startswith("application/problem+json")
    assert (await desk.client.get("/me/grievances/not-an-id", headers=as_("amina"))).status_code == 422
    long = {"category": "other", "description": "x" * 2001}
    assert (await desk.client.post("/me/grievances", json=long, headers=as_("amina"))).status_code == 422


async def test_a_stranger_with_a_broken_body_learns_nothing_about_its_shape(desk):
    """Authentication before parsing: no credentials and a malformed body is 401, not a 422 describing the body."""
    for content in (b"{not json", b'{"category": "nope"}'):
        response = await desk.client.post(
            "/me/grievances", content=content, headers={"content-type": "application/json"}
        )
        assert response.status_code == 401, response.text
        assert "category" not in response.text
