"""The items' digest in a batch's signed records is SHA-256 over their RFC 8785 form: a verifier recomputing it with
any JCS implementation gets the same bytes, whatever the items hold."""

from __future__ import annotations

import hashlib

import rfc8785

from services.payments.bulk.service import items_digest


def test_the_items_canonical_form_is_rfc_8785_byte_for_byte():
    items = [
        {"seq": 0, "end_to_end_id": "E2E-1", "person_ref": "sub-1", "amount": 2500, "status": "paid", "reason": None,
         "account_id": "bank-a:customer:000001"},
        {"seq": 1, "end_to_end_id": 'quote " and \\ back', "person_ref": "Zoë-Ōta-名前", "amount": 0,
         "status": "failed", "reason": "unresolved", "account_id": None},
        {"seq": 2, "end_to_end_id": "tab\there\nnew\x01\x1f\x7f", "person_ref": "\u2028\u2029", "amount": -7,
         "status": "pending", "reason": None, "account_id": "emoji \U0001f600"},
    ]  # fmt: skip
    assert items_digest(items) == hashlib.sha256(rfc8785.dumps(items)).hexdigest()


def test_amounts_beyond_safe_integers_take_the_librarys_number_form():
    items = [{"seq": 0, "amount": 2**53 + 1, "status": "pending"}]
    try:
        expected = rfc8785.dumps(items)
    except Exception as refusal:  # the library refuses integers it cannot write exactly; so must the digest
        try:
            items_digest(items)
        except type(refusal):
            return
        raise AssertionError("an unsafe integer was hashed where RFC 8785 refuses it") from None
    assert items_digest(items) == hashlib.sha256(expected).hexdigest()
