"""The auditor API over HTTP: who may read, what they can find, and that nothing can be changed."""

from __future__ import annotations

import base64
from datetime import timedelta
from itertools import count

import pytest

from gateway.audit.export import verify_export
from gateway.audit.merkle import verify_consistency, verify_inclusion
from gateway.audit.note import VerifierKey, open_checkpoint
from services.identity.client import find_uins, is_valid_uin
from tests.gateway.audit.conftest import as_caller, make_event


async def _seed(gateway_app, clock):
    log = gateway_app.app.state.audit
    events = []
    for i in range(30):
        events.append(
            make_event(
                sub=f"sub-{i % 3}",
                actor="bank-1" if i % 2 else "clinic-7",
                decision="deny" if i % 5 == 0 else "permit",
                rule_ids=("SG-PURPOSE-1",) if i % 5 == 0 else ("SG-CONSENT-1", "SG-MIN-1"),
                action="GET /v1/persons/{sub}" if i % 4 else "POST /v1/data-requests",
                time=clock.now() + timedelta(minutes=i),
            )
        )
    return await log.append_many(events)


@pytest.mark.rule("SG-OVERSIGHT-1")
@pytest.mark.parametrize("who", ["auditor", "oversight"])
async def test_auditor_and_oversight_search_by_subject_actor_rule_action_and_time(gateway_app, clock, who):
    await _seed(gateway_app, clock)
    client = gateway_app.client
    by_sub = (await client.get("/audit/entries", params={"sub": "sub-1", "limit": 500}, headers=as_caller(who))).json()
    assert {e["record"]["sub"] for e in by_sub["items"]} == {"sub-1"} and len(by_sub["items"]) == 10
    by_rule = (await client.get("/audit/entries", params={"rule": "SG-PURPOSE-1"}, headers=as_caller(who))).json()
    assert [e["index"] for e in by_rule["items"]] == [25, 20, 15, 10, 5, 0]
    assert all(e["record"]["decision"] == "deny" for e in by_rule["items"])
    by_actor_action = (
        await client.get(
            "/audit/entries", params={"actor": "clinic-7", "action": "POST /v1/data-requests"}, headers=as_caller(who)
        )
    ).json()
    assert [e["index"] for e in by_actor_action["items"]] == [28, 24, 20, 16, 12, 8, 4, 0]
    since = (clock.now() + timedelta(minutes=10)).isoformat()
    until = (clock.now() + timedelta(minutes=13)).isoformat()
    by_time = await client.get("/audit/entries", params={"since": since, "until": until}, headers=as_caller(who))
    assert [e["index"] for e in by_time.json()["items"]] == [12, 11, 10]


@pytest.mark.parametrize(
    "moment", ["9999-12-31T23:00:00-05:00", "0001-01-01T01:00:00+05:00", "2026-01-01T00:00:00", "not a time"]
)
async def test_a_search_time_out_of_range_or_without_an_offset_is_a_422_not_a_500(gateway_app, clock, moment):
    await _seed(gateway_app, clock)
    for bound in ("since", "until"):
        response = await gateway_app.client.get("/audit/entries", params={bound: moment}, headers=as_caller("auditor"))
        assert response.status_code == 422, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["errors"][0]["loc"] == ["query", bound]


async def test_search_pages_with_a_cursor_through_every_entry_once(gateway_app, clock):
    await _seed(gateway_app, clock)
    seen: list[int] = []
    params: dict[str, str | int] = {"limit": 7}
    while True:
        page = (await gateway_app.client.get("/audit/entries", params=params, headers=as_caller("auditor"))).json()
        seen.extend(e["index"] for e in page["items"])
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == list(range(29, -1, -1))


@pytest.mark.rule("SG-OVERSIGHT-1")
@pytest.mark.parametrize(("headers", "status"), [({}, 401), (as_caller("operator"), 403), (as_caller("bank"), 403)])
async def test_only_auditor_and_oversight_read_the_log(gateway_app, clock, headers, status):
    await _seed(gateway_app, clock)
    for path in ("/audit/entries", "/audit/export", "/audit/verify", "/audit/witness/refusals"):
        response = await gateway_app.client.get(path, headers=headers)
        assert response.status_code == status, path
        assert response.headers["content-type"].startswith("application/problem+json")
        if status == 403:
            assert response.json()["rule_id"] == "SG-SEC-1"


@pytest.mark.rule("SG-AUDIT-1")
@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH"])
async def test_no_route_updates_or_deletes_an_entry(gateway_app, clock, method):
    appended = await _seed(gateway_app, clock)
    # a path with a line feed too (the fuzz through the gateway found it answered 404, not 405)
    for path in (f"/audit/entries/{appended[3].event_id}", "/audit/entries", "/audit/checkpoint", "/audit/a%0Ab"):
        response = await gateway_app.client.request(method, path, headers=as_caller("oversight"))
        assert response.status_code == 405, path
        assert "GET" in response.headers["allow"]
        assert response.json()["code"] == "audit.append_only"
    entry = await gateway_app.client.get(f"/audit/entries/{appended[3].event_id}", headers=as_caller("auditor"))
    assert entry.status_code == 200 and entry.json()["index"] == 3


@pytest.mark.rule("SG-OVERSIGHT-1")
async def test_an_auditor_cannot_submit_witness_verdicts(gateway_app, clock):
    await _seed(gateway_app, clock)
    body = {"witness": "w", "size": 1, "note": "x", "refusal": "no"}
    refused = await gateway_app.client.post("/audit/witness/verdicts", json=body, headers=as_caller("auditor"))
    assert refused.status_code == 403 and refused.json()["rule_id"] == "SG-SEC-1"
    ok = await gateway_app.client.post("/audit/witness/verdicts", json=body, headers=as_caller("oversight"))
    assert ok.status_code == 204
    refusals = (await gateway_app.client.get("/audit/witness/refusals", headers=as_caller("auditor"))).json()
    assert [(r["witness"], r["reason"]) for r in refusals] == [("w", "no")]


async def test_the_public_checkpoint_and_the_proofs_verify_with_the_published_key(gateway_app, clock):
    await _seed(gateway_app, clock)
    client = gateway_app.client
    first = (await client.get("/audit/checkpoint")).json()  # public: no caller
    key = VerifierKey.parse(first["log_key"])
    assert key == VerifierKey.parse((gateway_app.settings.resolved_keys_dir / "audit-log.vkey").read_text())
    checkpoint = open_checkpoint(first["note"], key)
    assert checkpoint.size == 30
    proof = (await client.get("/audit/proofs/inclusion", params={"index": 7}, headers=as_caller("auditor"))).json()
    entry = (await client.get("/audit/entries", params={"limit": 500}, headers=as_caller("auditor"))).json()
    leaf = next(e["leaf"] for e in entry["items"] if e["index"] == 7).encode()
    path = [base64.b64decode(h) for h in proof["proof"]]
    from gateway.audit.merkle import leaf_hash

    assert verify_inclusion(7, 30, leaf_hash(leaf), path, checkpoint.root)
    await gateway_app.app.state.audit.append_many([make_event() for _ in range(11)])
    later = (await client.post("/audit/checkpoint", headers=as_caller("oversight"))).json()
    newer = open_checkpoint(later["note"], key)
    consistency = (
        await client.get("/audit/proofs/consistency", params={"old": 30, "new": 41}, headers=as_caller("auditor"))
    ).json()
    assert verify_consistency(30, 41, checkpoint.root, newer.root, [base64.b64decode(h) for h in consistency["proof"]])


async def test_the_export_is_a_file_that_verifies_offline(gateway_app, clock):
    await _seed(gateway_app, clock)
    response = await gateway_app.client.get("/audit/export", headers=as_caller("auditor"))
    assert response.status_code == 200
    assert "attachment" in response.headers["content-disposition"]
    log = gateway_app.app.state.audit
    report = verify_export(response.content.splitlines(keepends=True), log.log_key, [log.witness.signer.verifier])
    assert report.ok and report.entries == 30, report.summary()
    part = await gateway_app.client.get("/audit/export", params={"start": 11, "end": 20}, headers=as_caller("auditor"))
    report = verify_export(part.content.splitlines(keepends=True), log.log_key)
    assert report.ok and report.entries == 9, report.summary()
    verified = (await gateway_app.client.get("/audit/verify", headers=as_caller("oversight"))).json()
    assert verified["ok"] and verified["entries"] == 30


@pytest.mark.parametrize(
    "params",
    [{"sub": "a\x00b"}, {"actor": "x" * 500}, {"cursor": "9" * 30}, {"cursor": "9" * 20}, {"limit": 0},
     {"since": "2026-01-01T00:00:00"},
     {"sub": "\u200b" * 200}],
)  # fmt: skip
async def test_bad_search_input_is_a_problem_not_a_server_error(gateway_app, params):
    response = await gateway_app.client.get("/audit/entries", params=params, headers=as_caller("auditor"))
    assert response.status_code in (200, 422)
    assert response.status_code == 422 or params == {"sub": "\u200b" * 200}
    assert response.headers["content-type"].startswith("application/problem+json") or response.status_code == 200


@pytest.mark.parametrize("params", [{"index": 5, "size": 3}, {"index": 99}, {"index": -1}])
async def test_impossible_proofs_are_problems(gateway_app, clock, params):
    await _seed(gateway_app, clock)
    response = await gateway_app.client.get("/audit/proofs/inclusion", params=params, headers=as_caller("auditor"))
    assert response.status_code == 422
    consistency = await gateway_app.client.get(
        "/audit/proofs/consistency", params={"old": 20, "new": 10}, headers=as_caller("auditor")
    )
    assert consistency.status_code == 422


@pytest.mark.rule("SG-TOKEN-1")
async def test_an_impossible_proof_does_not_repeat_the_numbers_asked_for(gateway_app, clock):
    """A number a caller sends may be written like a UIN (12 digits ending in a right check digit; the fuzz through
    the gateway sent one): a problem's detail never repeats it, so no answer carries anything that reads as one."""
    await _seed(gateway_app, clock)
    uin_like = next(str(n) for n in count(10**11 + 1) if is_valid_uin(str(n)))
    for path, params in (
        ("/audit/proofs/inclusion", {"index": uin_like}),
        ("/audit/proofs/inclusion", {"index": 0, "size": uin_like}),
        ("/audit/proofs/consistency", {"old": 1, "new": uin_like}),
        ("/audit/proofs/consistency", {"old": uin_like, "new": 10}),
    ):
        response = await gateway_app.client.get(path, params=params, headers=as_caller("auditor"))
        assert response.status_code == 422, response.text
        assert not find_uins(response.text), f"{path} {params}: {response.text}"


@pytest.mark.parametrize("body", [b"{not json", b'{"witness": "w\\u0000"}', b"[]"])
async def test_a_witness_report_is_authenticated_before_its_body_is_read(gateway_app, body):
    headers = {"Content-Type": "application/json"}
    anonymous = await gateway_app.client.post("/audit/witness/verdicts", content=body, headers=headers)
    assert anonymous.status_code == 401
    auditor = await gateway_app.client.post(
        "/audit/witness/verdicts", content=body, headers={**headers, **as_caller("auditor")}
    )
    assert auditor.status_code == 403 and auditor.json()["rule_id"] == "SG-SEC-1"
    oversight = await gateway_app.client.post(
        "/audit/witness/verdicts", content=body, headers={**headers, **as_caller("oversight")}
    )
    assert oversight.status_code == 422


async def test_a_checkpoint_size_beyond_any_log_is_bad_input_not_a_crash(gateway_app):
    """Found by the fuzzer through the gateway: a size SQLite cannot hold answered 500."""
    response = await gateway_app.client.get("/audit/checkpoints/130982154876824397545472", headers=as_caller("auditor"))
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
