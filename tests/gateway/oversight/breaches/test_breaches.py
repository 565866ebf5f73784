"""Breach incidents through the gateway (SG-BREACH-1): oversight records one; every affected person is told within
the deadline in their own language, whatever their notice preferences; their VIDs and offline credentials are
reissued; the incident, each notice and each reissue are audit events; a missed deadline is marked and announced."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from tests.gateway.conftest import Edge
from tests.gateway.edge import as_caller
from tests.gateway.oversight.rig import citizen, inbox, outbox
from tests.identity.access_helpers import enrolled


def _incident(edge: Edge, affected: list[dict[str, str]], *, found_hours_ago: float = 1) -> dict:  # type: ignore[type-arg]
    return {
        "organisation": "Bank A",
        "description": "A backup of the KYC cache was readable from the internet for two days.",
        "data_categories": ["full_name", "phone", "vid"],
        "found_at": (edge.app.state.clock.now() - timedelta(hours=found_hours_ago)).isoformat(),
        "affected": affected,
    }


async def _record(edge: Edge, body: dict) -> dict:  # type: ignore[type-arg]
    response = await edge.client.post("/oversight/breaches", json=body, headers=as_caller("oversight"))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


@pytest.mark.rule("SG-BREACH-1")
async def test_every_affected_person_is_told_in_their_language_and_it_is_all_in_the_audit_log(edge: Edge) -> None:
    english = await enrolled(edge.identity, preferred_language="en")
    arabic = await enrolled(edge.identity, preferred_language="ar", consents={"biometric": False, "notices": False})
    by_vid = await enrolled(edge.identity, preferred_language="es")
    body = _incident(
        edge,
        [
            {"type": "sub", "value": english.sub},
            {"type": "sub", "value": arabic.sub},
            {"type": "vid", "value": by_vid.vid},
        ],
    )
    incident = await _record(edge, body)
    found, deadline = (datetime.fromisoformat(incident[key]) for key in ("found_at", "notify_by"))
    assert deadline - found == timedelta(hours=72), "the configured deadline runs from discovery"
    assert [p["notice"] for p in incident["affected"]] == ["pending"] * 3
    assert {p["sub"] for p in incident["affected"]} == {english.sub, arabic.sub, by_vid.sub}

    assert (await edge.app.state.notices.run_once()).sent == 3
    told = (await edge.client.get(f"/oversight/breaches/{incident['id']}", headers=as_caller("auditor"))).json()
    assert all(p["notice"] == "sent" and p["in_time"] is True for p in told["affected"])
    languages = {p["sub"]: (p["language"], p["channel"]) for p in told["affected"]}
    assert languages[arabic.sub] == ("ar", "sms"), "a breach notice goes by SMS even to someone who declined notices"
    assert languages[by_vid.sub] == ("es", "sms")

    (arabic_notice,) = await inbox(edge, arabic.sub, "breach")
    assert arabic_notice["direction"] == "rtl" and "Bank A" in arabic_notice["body"]
    (english_notice,) = await inbox(edge, english.sub, "breach")
    assert "full_name, phone, vid" in english_notice["body"] and "/me/grievances" in english_notice["body"]

    events = await edge.audit_events()
    (recorded,) = [e for e in events if e["action"] == "POST /oversight/breaches"]
    assert recorded["event_id"] == incident["audit_event_id"]
    assert (recorded["actor"], recorded["rule_ids"]) == ("oversight-board", ["SG-BREACH-1"])
    notices = [e for e in events if e["action"] == f"NOTICE breach {incident['id']}"]
    assert sorted(e["sub"] for e in notices) == sorted([english.sub, arabic.sub, by_vid.sub])
    mine = (await edge.client.get("/me/access-log", headers=citizen(arabic.sub))).json()["entries"]
    assert f"NOTICE breach {incident['id']}" in [e["record"]["action"] for e in mine], "the person sees it too"
    (announced,) = await outbox(edge, "gateway.breach.recorded")
    assert announced["affected"] == 3
    assert (await edge.app.state.notices.run_once()).sent == 0, "each person is told once"


@pytest.mark.rule("SG-BREACH-1")
async def test_the_affected_peoples_vids_and_offline_credentials_are_reissued(edge: Edge) -> None:
    person = await enrolled(edge.identity)
    issued = await edge.client.post("/identity/v1/me/offline-credential", headers=citizen(person.sub))
    assert issued.status_code == 201, issued.text
    incident = await _record(edge, _incident(edge, [{"type": "vid", "value": person.vid}]))

    run = await edge.client.post(f"/oversight/breaches/{incident['id']}/reissue", headers=as_caller("oversight"))
    assert run.status_code == 200, run.text
    assert run.json() == {
        "people": 1, "vids_revoked": 1, "vids_issued": 1, "offline_credentials_revoked": 1, "not_reissued": 0,
    }  # fmt: skip
    vids = (await edge.client.get("/identity/v1/me/vids", headers=citizen(person.sub))).json()
    assert {v["vid"]: v["status"] for v in vids}[person.vid] == "revoked"
    (fresh,) = [v for v in vids if v["status"] == "active"]
    old = await edge.client.post(
        "/identity/v1/authn/otp", json={"individual": {"type": "vid", "value": person.vid}},
        headers=as_caller("bank"),
    )  # fmt: skip
    assert old.status_code == 401, "the exposed VID identifies nobody any more"
    new = await edge.client.post(
        "/identity/v1/authn/otp", json={"individual": {"type": "vid", "value": fresh["vid"]}},
        headers=as_caller("bank"),
    )  # fmt: skip
    assert new.status_code == 202, new.text
    credentials = (await edge.client.get("/identity/v1/me/offline-credentials", headers=citizen(person.sub))).json()
    assert [c["status"] for c in credentials["items"]] == ["revoked"]

    again = await edge.client.post(f"/oversight/breaches/{incident['id']}/reissue", headers=as_caller("oversight"))
    assert again.json()["people"] == 0, "each person is reissued once"
    reissues = [e for e in await edge.audit_events() if e["action"].endswith("/reissue")]
    assert [(e["sub"], e["rule_ids"]) for e in reissues] == [(person.sub, ["SG-BREACH-1"])]
    read = (await edge.client.get(f"/oversight/breaches/{incident['id']}", headers=as_caller("oversight"))).json()
    assert read["affected"][0]["reissued_at"] is not None


@pytest.mark.rule("SG-BREACH-1")
async def test_a_deadline_missed_is_marked_announced_and_audited(edge: Edge, clock) -> None:  # type: ignore[no-untyped-def]
    person = await enrolled(edge.identity)
    incident = await _record(edge, _incident(edge, [{"type": "sub", "value": person.sub}], found_hours_ago=71))
    clock.advance(timedelta(hours=2))  # the notice timer did not run for two hours: the 72-hour deadline passed
    assert (await edge.app.state.notices.run_once()).sent == 1
    read = (await edge.client.get(f"/oversight/breaches/{incident['id']}", headers=as_caller("oversight"))).json()
    assert read["affected"][0]["in_time"] is False
    assert read["deadline_missed_at"] is not None
    (missed,) = [e for e in await edge.audit_events() if e["action"] == f"BREACH deadline {incident['id']}"]
    assert (missed["decision"], missed["rule_ids"]) == ("deny", ["SG-BREACH-1"])
    (announced,) = await outbox(edge, "gateway.breach.deadline_missed")
    assert announced["not_told_in_time"] == 1
    await edge.app.state.notices.run_once()
    assert len(await outbox(edge, "gateway.breach.deadline_missed")) == 1, "marked once"


@pytest.mark.rule("SG-BREACH-1")
@pytest.mark.rule("SG-OVERSIGHT-1")
async def test_only_oversight_records_or_reissues_and_auditors_only_read(edge: Edge) -> None:
    person = await enrolled(edge.identity)
    body = _incident(edge, [{"type": "sub", "value": person.sub}])
    for caller in ("auditor", "bank", "registrar"):
        refused = await edge.client.post("/oversight/breaches", json=body, headers=as_caller(caller))
        assert refused.status_code == 403 and refused.json()["rule_id"] == "SG-SEC-1", caller
    assert (await edge.client.get("/oversight/breaches", headers=as_caller("auditor"))).json()["items"] == []
    incident = await _record(edge, body)
    refused = await edge.client.post(f"/oversight/breaches/{incident['id']}/reissue", headers=as_caller("auditor"))
    assert refused.status_code == 403
    listed = (await edge.client.get("/oversight/breaches", headers=as_caller("auditor"))).json()["items"]
    assert [i["id"] for i in listed] == [incident["id"]]


async def test_bad_incidents_are_refused_with_problem_details(edge: Edge) -> None:
    person = await enrolled(edge.identity)
    future = {**_incident(edge, [{"type": "sub", "value": person.sub}], found_hours_ago=-1)}
    unknown_vid = _incident(edge, [{"type": "vid", "value": "4096820153679541"}])
    not_a_sub = _incident(edge, [{"type": "sub", "value": "someone"}])
    for body in (future, unknown_vid, not_a_sub, {"organisation": "x"}):
        response = await edge.client.post("/oversight/breaches", json=body, headers=as_caller("oversight"))
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
    missing = await edge.client.get(f"/oversight/breaches/brc_{'0' * 32}", headers=as_caller("oversight"))
    assert missing.status_code == 404


@pytest.mark.rule("SG-BREACH-1")
@pytest.mark.rule("SG-TRANSP-1")
async def test_incidents_are_in_the_public_statistics_with_their_people_withheld_under_k(edge: Edge) -> None:
    people = [await enrolled(edge.identity) for _ in range(3)]
    incident = await _record(edge, _incident(edge, [{"type": "sub", "value": p.sub} for p in people]))
    await edge.app.state.notices.run_once()
    stats = (await edge.client.get("/governance/stats/breaches")).json()
    month = incident["found_at"][:7]
    assert stats["incidents_by_month"] == {month: 1}
    table = stats["people_by_month"]
    assert table["rows"][month]["told_in_time"] is None, "three people is a count under k"
    assert table["total"] is None and table["column_totals"]["told_in_time"] is None
