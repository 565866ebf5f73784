"""The egress scan and the reference rewriting use identity's own formats: they find every UIN and only UINs, and
recognise every `sub` identity issues."""

from __future__ import annotations

import json

import pytest

from gateway.proxy.persons import PairwiseTokens, carries_uin
from gateway.rules import pointers
from services.identity.client import PAIRWISE_TOKEN_PATTERN, SUB_PATTERN
from services.identity.crypto import pairwise_token
from services.identity.persons.service import new_sub
from services.identity.persons.uin import generate_uin, generate_vid


@pytest.mark.rule("SG-TOKEN-1")
def test_a_uin_anywhere_in_a_body_is_found() -> None:
    uin = generate_uin()
    assert carries_uin(json.dumps({"deep": [{"x": f"ref {uin}."}]}).encode())
    assert carries_uin(uin.encode())


def test_numbers_that_are_not_uins_are_not_mistaken_for_one() -> None:
    uin = generate_uin()
    wrong_check_digit = uin[:-1] + str((int(uin[-1]) + 1) % 10)
    body = {"vid": generate_vid(), "n": wrong_check_digit, "id": f"evt_{uin}abc", "amount": "123456789012.50x"}
    assert not carries_uin(json.dumps(body).encode())


def test_identitys_formats_match_what_identity_issues() -> None:
    for _ in range(50):
        assert SUB_PATTERN.fullmatch(new_sub())
        assert PAIRWISE_TOKEN_PATTERN.fullmatch(pairwise_token(b"k" * 32, "rp-bank", generate_uin()))


async def test_every_sub_becomes_the_callers_token_and_tokens_are_asked_once() -> None:
    asked: list[tuple[str, str]] = []

    async def issue(sub: str, client_id: str) -> str:
        asked.append((sub, client_id))
        return "tok_" + sub[4:]

    tokens = PairwiseTokens(issue)
    a, b = new_sub(), new_sub()
    body = json.dumps({"a": a, "list": [b, a], "text": f"about {a}"}).encode()
    rewritten = json.loads(await tokens.rewrite(body, "rp-1"))
    assert rewritten == {"a": "tok_" + a[4:], "list": ["tok_" + b[4:], "tok_" + a[4:]], "text": f"about tok_{a[4:]}"}
    await tokens.rewrite(body, "rp-1")
    assert sorted(asked) == sorted([(a, "rp-1"), (b, "rp-1")])


def test_pointers_reach_into_arrays() -> None:
    doc = {"items": [{"who": "x"}, {"who": "y"}, {"other": 1}], "s": {"t": 1}}
    assert pointers.values(doc, "/items/*/who") == ["x", "y"]
    pointers.replace(doc, "/items/*/who", str.upper)
    assert pointers.first(doc, "/items/1/who") == "Y"
    pointers.remove(doc, "/s/t")
    assert doc["s"] == {}
    assert pointers.first(doc, "/missing/deeper") is None
