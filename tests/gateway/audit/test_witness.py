"""Witnesses co-sign checkpoints that extend what they saw, and refuse (visibly) a checkpoint that rewrites history:
the in-sandbox witness on every published checkpoint, and `dpi-sandbox audit witness` run by oversight."""

from __future__ import annotations

import pytest
from sqlalchemy import insert

from gateway.app import AUDIT_TABLES
from gateway.audit.note import ALG_COSIGNATURE_V1, Checkpoint, NoteSigner, split_note, verify_cosignature
from gateway.audit.witness import Witness, load_state, witness_once
from tests.gateway.audit.conftest import as_caller, make_event


async def _forge_checkpoint(log, size: int, clock) -> str:
    """What a compromised log would publish: a checkpoint of another history, signed with the real log key."""
    note = log.signer.sign_note(Checkpoint(log.origin, size, b"\x07" * 32).text())
    async with log.engine.begin() as conn:
        await conn.execute(
            insert(AUDIT_TABLES.checkpoints).values(size=size, root=b"\x07" * 32, note=note, published_at=clock.now())
        )
    return note


@pytest.mark.rule("SG-AUDIT-1")
async def test_the_in_sandbox_witness_cosigns_each_checkpoint_that_extends_the_last(gateway_app):
    log = gateway_app.app.state.audit
    for round_ in range(3):
        await log.append_many([make_event(request_id=f"{round_}-{i}") for i in range(7 + round_)])
        view = await log.publish_checkpoint()
        text, signatures = split_note(view.note)
        key = log.witness.signer.verifier
        stamped = [verify_cosignature(text, s, key) for s in signatures if s.name == key.name]
        assert stamped and stamped[0] is not None
    assert await log.refusals() == []


@pytest.mark.rule("SG-AUDIT-1")
async def test_the_oversight_witness_cosigns_then_refuses_a_rewritten_history_visibly(gateway_app, tmp_path, clock):
    log = gateway_app.app.state.audit
    client = gateway_app.client
    client.headers.update(as_caller("oversight"))
    signer = NoteSigner("oversight-witness", _key(), ALG_COSIGNATURE_V1)
    witness = Witness(signer, log.log_key, log.origin)
    state = tmp_path / "witness.json"

    await log.append_many([make_event() for _ in range(12)])
    first = await witness_once(client, witness, state, timestamp=1_700_000_000)
    assert first.accepted and load_state(state).size == 12
    await log.append_many([make_event() for _ in range(9)])
    await log.publish_checkpoint()  # what the steady cadence does
    second = await witness_once(client, witness, state, timestamp=1_700_000_100)
    assert second.accepted and load_state(state).size == 21
    checkpoint = (await client.get("/audit/checkpoints/21")).json()
    assert "oversight-witness" in checkpoint["note"]  # the cosignature is published with the checkpoint

    await log.append_many([make_event() for _ in range(4)])
    await _forge_checkpoint(log, 25, clock)
    refused = await witness_once(client, witness, state, timestamp=1_700_000_200)
    assert not refused.accepted and refused.refusal and "history rewritten" in refused.refusal
    assert load_state(state).size == 21  # the witness keeps the last good checkpoint
    refusals = (await client.get("/audit/witness/refusals", headers=as_caller("auditor"))).json()
    assert [(r["witness"], r["size"]) for r in refusals] == [("oversight-witness", 25)]


@pytest.mark.rule("SG-AUDIT-1")
async def test_the_in_sandbox_witness_refuses_a_forged_checkpoint(gateway_app, clock):
    log = gateway_app.app.state.audit
    await log.append_many([make_event() for _ in range(10)])
    await log.publish_checkpoint()
    await log.append_many([make_event() for _ in range(3)])
    forged = await _forge_checkpoint(log, 13, clock)
    verdict = await log.witness_checkpoint(log.witness, forged)
    assert verdict.refusal and not verdict.accepted
    assert [r["size"] for r in await log.refusals()] == [13]


def test_a_checkpoint_not_signed_by_the_log_is_refused():
    log_signer = NoteSigner("log.example/a", _key())
    other = NoteSigner("log.example/a", _key())
    witness = Witness(NoteSigner("w", _key(), ALG_COSIGNATURE_V1), log_signer.verifier, "log.example/a")
    note = other.sign_note(Checkpoint("log.example/a", 3, b"\x01" * 32).text())
    verdict = witness.observe(note, [], None, timestamp=1)
    assert verdict.refusal and "not a checkpoint of this log" in verdict.refusal


def _key():  # type: ignore[no-untyped-def]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.generate()
