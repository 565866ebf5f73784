"""The leaf encoding is RFC 8785, and the note format is C2SP signed-note (the Go sumdb/note test vector)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from gateway.audit.events import AuditEvent, encode_event, encode_leaf, encode_record, leaf_from_record, leaf_index
from gateway.audit.note import (
    ALG_COSIGNATURE_V1,
    Checkpoint,
    NoteError,
    VerifierKey,
    open_checkpoint,
    open_note,
    signer_from_go_private_key,
    split_note,
    verify_cosignature,
)

# golang.org/x/mod/sumdb/note, note_test.go
GO_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
GO_SKEY = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz"
GO_TEXT = "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n"
GO_NOTE = (
    GO_TEXT
    + "\n\u2014 PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6R"
    "yyBwJnAM=\n"
)

text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=40
)  # what AuditEvent accepts
zones = [UTC, timezone(timedelta(hours=-5, minutes=-30))]  # a deferral given in local time is stored in UTC
events = st.builds(
    AuditEvent,
    decision=st.sampled_from(["permit", "deny"]),
    actor=text,
    actor_type=text,
    sub=st.none() | text,
    action=text,
    purpose=st.none() | text,
    legal_basis=st.none() | text,
    consent_id=st.none() | text,
    court_order_id=st.none() | text,
    channel=st.none() | text,
    assisted_by=st.none() | text,
    confirmation=st.none() | text,
    request_id=st.none() | text,
    disclose_after=st.none()
    | st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=st.sampled_from(zones)),
    fields_returned=st.lists(text, max_size=5).map(tuple),
    rule_ids=st.lists(text, max_size=3).map(tuple),
    dry_run=st.booleans(),
    status=st.none() | st.integers(min_value=100, max_value=599),
    # the kit's Instant range (services/common/clock.py): an audit time outside it is refused, see test_instants.py
    time=st.none() | st.datetimes(datetime(1900, 1, 1), datetime(8999, 12, 31), timezones=st.just(UTC)),
)


@settings(max_examples=300, deadline=None)
@given(events, st.integers(min_value=0, max_value=2**53 - 1))  # RFC 8785: integers within IEEE 754 safe range
def test_the_leaf_encoding_is_exactly_rfc_8785(event, index):
    record = event.record("evt_1", datetime(2026, 1, 1, tzinfo=UTC))
    leaf = encode_leaf(index, record)
    assert leaf == rfc8785.dumps({"index": index, "record": record})
    assert leaf_from_record(index, encode_record(record)) == leaf  # the record's bytes, index added last
    assert encode_event(event, "evt_1", datetime(2026, 1, 1, tzinfo=UTC)) == encode_record(record)  # the log's way
    assert leaf_index(leaf) == index


@pytest.mark.parametrize("bad", ["a\x00b", "x" * 300, "\ud800", "tab\there"])
def test_events_refuse_text_that_cannot_be_stored_or_encoded(bad):
    with pytest.raises(ValidationError):
        AuditEvent(decision="permit", actor="a", actor_type="organisation", action=bad)


def test_the_go_sumdb_note_vector_signs_and_verifies():
    signer = signer_from_go_private_key(GO_SKEY)
    assert str(signer.verifier) == GO_VKEY
    assert signer.sign_note(GO_TEXT) == GO_NOTE  # Ed25519 is deterministic: byte for byte the published note
    key = VerifierKey.parse(GO_VKEY)
    assert open_note(GO_NOTE, key)[0] == GO_TEXT
    with pytest.raises(NoteError):
        open_note(GO_NOTE.replace("cryptography", "cryptographY"), key)
    with pytest.raises(NoteError):
        VerifierKey.parse(GO_VKEY.replace("c74f20a3", "c74f20a4"))


def test_checkpoints_and_cosignatures_round_trip_and_fail_when_altered():
    log = signer_from_go_private_key(GO_SKEY)
    checkpoint = Checkpoint("example.com/log", 42, bytes(range(32)))
    note = log.sign_note(checkpoint.text())
    assert open_checkpoint(note, log.verifier) == checkpoint
    witness = signer_from_go_private_key(GO_SKEY)
    witness = type(witness)("witness.example", witness.private, ALG_COSIGNATURE_V1)
    line = witness.cosign(checkpoint.text(), 1_700_000_000)
    text, signatures = split_note(note + line)
    assert verify_cosignature(text, signatures[1], witness.verifier) == 1_700_000_000
    assert verify_cosignature(text.replace("42", "43"), signatures[1], witness.verifier) is None
    with pytest.raises(NoteError):
        open_checkpoint(note.replace("\n42\n", "\n43\n"), log.verifier)
