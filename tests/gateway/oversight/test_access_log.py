"""A person sees who accessed their data, each entry proved to be in the one log (SG-ACCESS-1), and court-deferred
entries only after their disclose-after time, with a count of what is withheld meanwhile (SG-ACCESS-2)."""

from __future__ import annotations

import base64
import hashlib
from datetime import timedelta

import pytest

from gateway.audit.events import AuditEvent
from tests.gateway.oversight.conftest import as_


def _event(clock, **overrides):
    values = {
        "decision": "permit",
        "actor": "social-registry-agency",
        "actor_type": "organisation",
        "sub": "sub-amina",
        "action": "POST /exchange/v1/fetch/social.household",
        "purpose": "cash-transfer-eligibility",
        "legal_basis": "consent",
        "consent_id": "cns_1",
        "fields_returned": ("household_size", "income_band"),
        "rule_ids": ("SG-CONSENT-1", "SG-MIN-1"),
        "channel": "web",
        "status": 200,
        "time": clock.now(),
    }
    values.update(overrides)
    return AuditEvent(**values)


def _root_from_inclusion(leaf: bytes, index: int, size: int, proof: list[bytes]) -> bytes:
    """RFC 9162 section 2.1.3.2, written here independently of the log's code."""
    node = hashlib.sha256(b"\x00" + leaf).digest()
    fn, sn = index, size - 1
    for sibling in proof:
        if sn == 0:
            raise AssertionError("proof too long")
        if fn % 2 == 1 or fn == sn:
            node = hashlib.sha256(b"\x01" + sibling + node).digest()
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            node = hashlib.sha256(b"\x01" + node + sibling).digest()
        fn, sn = fn >> 1, sn >> 1
    assert sn == 0, "proof too short"
    return node


@pytest.mark.rule("SG-ACCESS-1")
async def test_a_person_sees_who_accessed_their_data_with_proofs(desk, clock):
    audit = desk.app.state.audit
    await audit.append_many([_event(clock, sub="sub-bilal"), _event(clock), _event(clock, actor="bank-1")])
    response = await desk.client.get("/me/access-log", headers=as_("amina"))
    assert response.status_code == 200, response.text
    view = response.json()
    assert {e["record"]["actor"] for e in view["entries"]} == {"social-registry-agency", "bank-1"}
    assert all(e["record"]["sub"] == "sub-amina" for e in view["entries"])
    assert view["withheld"] == 0
    entry = next(e for e in view["entries"] if e["record"]["actor"] == "social-registry-agency")
    assert entry["record"]["fields_returned"] == ["household_size", "income_band"]
    assert entry["record"]["purpose"] == "cash-transfer-eligibility"
    root = base64.b64decode(view["checkpoint"]["root_hash"])
    for e in view["entries"]:
        proof = [base64.b64decode(p) for p in e["inclusion_proof"]]
        assert _root_from_inclusion(e["leaf"].encode(), e["index"], e["tree_size"], proof) == root
    assert f"\n{view['checkpoint']['size']}\n{view['checkpoint']['root_hash']}\n" in view["checkpoint"]["note"]


@pytest.mark.rule("SG-ACCESS-2")
async def test_a_court_deferred_access_is_withheld_until_its_time_and_counted(desk, clock):
    audit = desk.app.state.audit
    later = clock.now() + timedelta(days=90)
    await audit.append_many(
        [
            _event(clock),
            _event(
                clock, actor="police-unit-4", legal_basis="court_order", court_order_id="ord_9", disclose_after=later
            ),
        ]
    )
    before = (await desk.client.get("/me/access-log", headers=as_("amina"))).json()
    assert [e["record"]["actor"] for e in before["entries"]] == ["social-registry-agency"]
    assert before["withheld"] == 1
    clock.advance(timedelta(days=91))
    after = (await desk.client.get("/me/access-log", headers=as_("amina"))).json()
    assert after["withheld"] == 0
    assert {e["record"]["actor"] for e in after["entries"]} == {"social-registry-agency", "police-unit-4"}


async def test_only_a_signed_in_person_reads_an_access_log(desk):
    assert (await desk.client.get("/me/access-log")).status_code == 401
    organisation = await desk.client.get("/me/access-log", headers=as_("bank"))
    assert organisation.status_code == 403
    assert organisation.json()["rule_id"] == "SG-SEC-1"
