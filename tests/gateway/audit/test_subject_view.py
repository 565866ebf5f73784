"""A person's view of the log: their entries with inclusion proofs against the latest signed checkpoint; entries
deferred by a court order are in the tree but withheld until their disclose-after time, and counted."""

from __future__ import annotations

import base64
from datetime import timedelta

import pytest

from gateway.audit.merkle import leaf_hash, verify_inclusion
from gateway.audit.note import VerifierKey, open_checkpoint
from tests.gateway.audit.conftest import make_event


def _check(view, key: VerifierKey) -> None:
    """What a citizen's device does with the view: open the checkpoint with the published key, check each proof."""
    checkpoint = open_checkpoint(view.checkpoint.note, key)
    for entry in view.entries:
        proof = [base64.b64decode(h) for h in entry.inclusion_proof]
        assert entry.tree_size == checkpoint.size
        assert verify_inclusion(entry.index, checkpoint.size, leaf_hash(entry.leaf.encode()), proof, checkpoint.root)


@pytest.mark.rule("SG-ACCESS-1")
async def test_a_subject_sees_their_own_entries_each_with_a_proof(gateway_app, clock):
    log = gateway_app.app.state.audit
    await log.append_many(
        [make_event(sub="sub-alice" if i % 3 == 0 else "sub-bob", request_id=f"r{i}") for i in range(20)]
    )
    await log.append(make_event(sub="sub-alice", actor="ops-desk", actor_type="operator"))  # after the checkpoint
    view = await log.entries_for_subject("sub-alice", clock.now())
    assert [e.index for e in view.entries] == [20, 18, 15, 12, 9, 6, 3, 0]
    assert {e.record["sub"] for e in view.entries} == {"sub-alice"}
    assert view.entries[0].record["actor_type"] == "operator"  # operator lookups are shown too (SG-OVERSIGHT-1)
    assert view.withheld == 0
    _check(view, log.log_key)


@pytest.mark.rule("SG-ACCESS-2")
async def test_court_ordered_entries_are_withheld_until_disclose_after_then_shown(gateway_app, clock):
    log = gateway_app.app.state.audit
    later = clock.now() + timedelta(days=30)
    await log.append(make_event(sub="sub-carol"))
    deferred = await log.append(
        make_event(
            sub="sub-carol",
            actor="police-1",
            actor_type="law_enforcement",
            legal_basis="court_order",
            court_order_id="co-17",
            consent_id=None,
            disclose_after=later,
        )
    )
    await log.append(make_event(sub="sub-carol"))
    now_view = await log.entries_for_subject("sub-carol", clock.now())
    assert [e.index for e in now_view.entries] == [2, 0] and now_view.withheld == 1
    _check(now_view, log.log_key)
    auditor_view = await log.get(event_id=deferred.event_id)  # the auditor always sees it
    assert auditor_view is not None and auditor_view.record["court_order_id"] == "co-17"
    clock.advance(days=31)
    after = await log.entries_for_subject("sub-carol", clock.now())
    assert [e.index for e in after.entries] == [2, 1, 0] and after.withheld == 0
    assert after.entries[1].record["legal_basis"] == "court_order"
    _check(after, log.log_key)


async def test_a_person_with_no_entries_gets_an_empty_view_with_a_checkpoint(gateway_app, clock):
    view = await gateway_app.app.state.audit.entries_for_subject("sub-nobody", clock.now())
    assert view.entries == [] and view.withheld == 0 and view.checkpoint.size == 0
