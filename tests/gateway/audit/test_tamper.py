"""Tampering with the stored log is caught by the offline verifier, which names the first bad position.

Each test appends events through the real log, then changes the database the way an insider with direct access
would (the append-only triggers switched off first, as such an insider could), exports, and verifies the export
with nothing but the log's published key.
"""

from __future__ import annotations

import pytest
from sqlalchemy import text

from gateway.audit.export import export_lines, verify_export
from gateway.audit.merkle import Frontier, leaf_hash
from gateway.audit.note import Checkpoint
from tests.gateway.audit.conftest import make_event

N = 40


async def _filled(gateway_app, n: int = N):
    log = gateway_app.app.state.audit
    await log.append_many([make_event(request_id=f"r{i}", sub=f"sub-{i % 5}") for i in range(n)])
    await log.publish_checkpoint()
    return log


async def _verify(log):
    lines = [line async for line in export_lines(log)]
    witnesses = [log.witness.signer.verifier]
    return verify_export(b"".join(lines).splitlines(keepends=True), log.log_key, witnesses, deep=True)


async def _tamper(log, *statements: str, params: dict | None = None) -> None:
    async with log.engine.begin() as conn:
        dialect = conn.dialect.name
        if dialect == "postgresql":
            await conn.execute(text("SET LOCAL session_replication_role = replica"))  # triggers off
        else:
            await conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_update"))
            await conn.execute(text("DROP TRIGGER IF EXISTS audit_events_no_delete"))
        for statement in statements:
            await conn.execute(text(statement), params or {})


@pytest.mark.rule("SG-AUDIT-1")
async def test_a_fresh_log_verifies(gateway_app):
    log = await _filled(gateway_app)
    report = await _verify(log)
    assert report.ok, report.summary()
    assert report.entries == N and report.checkpoints >= 1 and report.cosignatures >= 1


@pytest.mark.rule("SG-AUDIT-1")
@pytest.mark.parametrize("position", [0, 17, N - 1])
async def test_one_changed_byte_of_a_stored_event_is_found_at_its_position(gateway_app, position):
    log = await _filled(gateway_app)
    async with log.engine.connect() as conn:
        leaf = (await conn.execute(text(f"SELECT leaf FROM audit_events WHERE idx = {position}"))).scalar_one()
    changed = leaf.replace(b'"decision":"permit"', b'"decision":"permiT"')
    assert changed != leaf and len(changed) == len(leaf)
    await _tamper(log, f"UPDATE audit_events SET leaf = :leaf WHERE idx = {position}", params={"leaf": changed})
    report = await _verify(log)
    assert not report.ok
    assert report.first_bad_position == position, report.summary()


@pytest.mark.rule("SG-AUDIT-1")
async def test_a_rewritten_event_with_a_recomputed_leaf_hash_still_fails_against_the_signed_root(gateway_app):
    log = await _filled(gateway_app)
    async with log.engine.connect() as conn:
        leaf = (await conn.execute(text("SELECT leaf FROM audit_events WHERE idx = 9"))).scalar_one()
    changed = leaf.replace(b'"actor":"bank-1"', b'"actor":"bank-2"')
    await _tamper(
        log,
        "UPDATE audit_events SET leaf = :leaf, leaf_hash = :hash WHERE idx = 9",
        params={"leaf": changed, "hash": leaf_hash(changed)},
    )
    report = await _verify(log)
    assert not report.ok
    assert report.first_bad_position is not None and report.first_bad_position <= 9, report.summary()


@pytest.mark.rule("SG-AUDIT-1")
async def test_a_deleted_row_is_found_at_its_position(gateway_app):
    log = await _filled(gateway_app)
    await _tamper(log, "DELETE FROM audit_events WHERE idx = 23")
    report = await _verify(log)
    assert not report.ok
    assert report.first_bad_position == 23, report.summary()


@pytest.mark.rule("SG-AUDIT-1")
async def test_two_reordered_rows_are_found_at_the_first(gateway_app):
    log = await _filled(gateway_app)
    await _tamper(
        log,
        "UPDATE audit_events SET idx = -1 WHERE idx = 12",
        "UPDATE audit_events SET idx = 12 WHERE idx = 30",
        "UPDATE audit_events SET idx = 30 WHERE idx = -1",
    )
    report = await _verify(log)
    assert not report.ok
    assert report.first_bad_position == 12, report.summary()


@pytest.mark.rule("SG-AUDIT-1")
async def test_a_truncated_log_is_found_where_it_ends(gateway_app):
    log = await _filled(gateway_app)
    await _tamper(log, f"DELETE FROM audit_events WHERE idx >= {N - 6}")
    report = await _verify(log)
    assert not report.ok
    assert report.first_bad_position == N - 6, report.summary()


@pytest.mark.rule("SG-AUDIT-1")
async def test_a_forked_checkpoint_fails_verification_and_the_witness_refuses_it(gateway_app):
    log = await _filled(gateway_app)
    # A log operator (who holds the log key) signs a different history of the same size...
    forked = Frontier()
    for i in range(N):
        forked.append(leaf_hash(f"other history {i}".encode()))
    fork_note = log.signer.sign_note(Checkpoint(log.origin, N, forked.root()).text())
    lines = b"".join([line async for line in export_lines(log)]).splitlines(keepends=True)
    import json

    header = json.loads(lines[0])
    header["checkpoints"].append({"size": N, "note": fork_note})
    header["checkpoints"] = [c for c in header["checkpoints"] if c["note"] == fork_note or c["size"] != N]
    report = verify_export([json.dumps(header).encode() + b"\n", *lines[1:]], log.log_key)
    assert not report.ok and report.first_bad_position is not None, report.summary()
    # ...and the witness, which co-signed the real tree, refuses it, visibly.
    verdict = await log.witness_checkpoint(log.witness, fork_note)
    assert not verdict.accepted and verdict.refusal and "fork" in verdict.refusal
    refusals = await log.refusals()
    assert [r["size"] for r in refusals] == [N]
