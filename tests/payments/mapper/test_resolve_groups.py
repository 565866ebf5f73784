"""Resolves that arrive together are read together (one pipelined round trip on PostgreSQL), and each caller still
gets exactly the answer it would have had alone: its own person's default, 404 for nobody, a failure of its own."""

from __future__ import annotations

import asyncio

from services.payments.mapper import repository as mapper_repository
from tests.payments.payments_helpers import PROGRAMME

PEOPLE = 12


async def _linked_people(api) -> dict[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    expected = {}
    for n in range(PEOPLE):
        sub, fsp = f"sub-g{n}", ("bank-a", "bank-b")[n % 2]
        account = await api.open_account(fsp, owner=sub, address=f"g{n:03d}")
        linked = await api.fsp(fsp, "POST", "/v1/mapper/links", json={"fsp_id": fsp, "address": account["address"],
                                                                      "person_ref": sub})  # fmt: skip
        assert linked.status_code == 201, linked.text
        expected[sub] = {"ref_type": "sub", "person_ref": sub, "fsp_id": fsp, "address": account["address"],
                         "address_kind": "customer", "account_id": account["id"]}  # fmt: skip
    return expected


async def test_resolves_arriving_together_each_get_their_own_answer(api):
    expected = await _linked_people(api)
    asked = [f"sub-g{n % PEOPLE}" for n in range(30)] + ["sub-nobody", "sub-g3", "sub-g3", "sub-nobody-2"]
    answers = await asyncio.gather(
        *(api.call("GET", f"/v1/mapper/resolve?ref={sub}", roles=PROGRAMME) for sub in asked)
    )
    for sub, answer in zip(asked, answers, strict=True):
        if sub in expected:
            assert (answer.status_code, answer.json()) == (200, expected[sub]), sub
        else:
            assert answer.status_code == 404 and answer.json()["code"] == "payments.unresolvable", answer.text


async def test_a_group_is_one_read_and_a_failing_question_fails_alone(api, payments, database_url, monkeypatch):
    expected = await _linked_people(api)
    groups: list[int] = []
    read = mapper_repository.fetch_prepared_many

    async def counted(engine, statement, values):  # type: ignore[no-untyped-def]
        groups.append(len(values))
        return await read(engine, statement, values)

    monkeypatch.setattr(mapper_repository, "fetch_prepared_many", counted)
    resolves = payments.app.state.payments.resolves
    asked = [("sub", f"sub-g{n % PEOPLE}") for n in range(40)] + [("token", "sub-g1"), ("sub", "sub-nobody")]
    rows = await asyncio.gather(*(resolves.submit(question) for question in asked))
    assert groups == [len(asked)]  # submitted in one turn of the loop: one group, one read
    for (ref_type, sub), row in zip(asked, rows, strict=True):
        if ref_type == "sub" and sub in expected:
            assert (row.person_ref, row.account_id) == (sub, expected[sub]["account_id"])
        else:
            assert row is None

    # A question the database refuses (PostgreSQL takes no NUL in text) fails its own caller, not its group's.
    groups.clear()
    odd = ("sub", "sub-\x00g1")
    outcomes = await asyncio.gather(*(resolves.submit(q) for q in [("sub", "sub-g0"), odd, ("sub", "sub-g2")]),
                                    return_exceptions=True)  # fmt: skip
    assert outcomes[0].account_id == expected["sub-g0"]["account_id"]
    assert outcomes[2].account_id == expected["sub-g2"]["account_id"]
    if database_url == "sqlite":
        assert outcomes[1] is None and groups == [3]  # SQLite stores and compares a NUL like any character
    else:
        assert isinstance(outcomes[1], Exception) and groups[0] == 3
