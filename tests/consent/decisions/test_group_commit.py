"""Permits committed in groups (decisions/service.py `take_uses`, `Runtime.permits`): use counts stay exact when
several decisions share a batch, on the same artefact or on many, and one question that fails fails alone."""

from __future__ import annotations

import asyncio
from collections import Counter
from typing import Any

import pytest

from services.consent.decisions import service as decisions
from services.consent.decisions.schemas import DecisionRequest
from tests.consent.consent_helpers import RP

pytestmark = pytest.mark.rule("SG-CONSENT-1")


def question(api: Any, subject: str, purpose: str = "CASH", items: tuple[str, ...] = ("household_income_band",)) -> Any:
    body = DecisionRequest(requester=RP, subject=subject, purpose=purpose, items=list(items))
    rt = api.svc.app.state.consent
    return decisions.question(body, api.clock.now(), rt) | decisions.item_patterns(body.items)


async def uses_of(api: Any, consent_id: str) -> int:
    stored = (await api.call("GET", f"/v1/consents/{consent_id}", roles=("relying_party",))).json()
    return int(stored["uses"])


async def test_decisions_on_one_artefact_inside_one_batch_never_both_take_the_last_use(api):
    await api.purpose("CASH")
    consent = await api.granted("CASH", use_count=2)
    engine = api.svc.app.state.engine

    taken = await decisions.take_uses(engine, [question(api, "sub_amara") for _ in range(5)])

    assert [row.id if row is not None else None for row in taken] == [consent["id"]] * 2 + [None] * 3
    assert [row.uses for row in taken if row is not None] == [1, 2]  # each run saw the use the one before took
    assert await uses_of(api, consent["id"]) == 2
    assert (await api.decide("CASH"))["rule_id"] == "SG-CONSENT-1"  # and the general path agrees: all used


async def test_many_artefacts_decided_concurrently_each_permit_exactly_their_count(api, monkeypatch):
    await api.purpose("CASH")
    consents = {f"sub_{n}": await api.granted("CASH", f"sub_{n}", use_count=3) for n in range(20)}
    groups: list[int] = []
    run_group = decisions.fetch_prepared_many

    async def counted(engine: Any, statement: Any, values: Any) -> Any:
        if statement is decisions._take_newest_covering():
            groups.append(len(values))
        return await run_group(engine, statement, values)

    monkeypatch.setattr(decisions, "fetch_prepared_many", counted)

    subjects = [subject for subject in consents for _ in range(5)]
    answers = await asyncio.gather(*(api.decide("CASH", subject) for subject in subjects))

    permitted = [(subject, a) for subject, a in zip(subjects, answers, strict=True) if a["decision"] == "permit"]
    assert Counter(subject for subject, _ in permitted) == {subject: 3 for subject in consents}
    for subject, consent in consents.items():
        assert sorted(a["uses_remaining"] for answered, a in permitted if answered == subject) == [0, 1, 2]
        assert await uses_of(api, consent["id"]) == 3
    assert {answer["rule_id"] for answer in answers if answer["decision"] == "deny"} == {"SG-CONSENT-1"}
    assert max(groups) > 1  # the decisions did share batches


async def test_a_question_the_database_refuses_fails_alone_and_its_batch_is_decided_again(api):
    await api.purpose("CASH")
    consent = await api.granted("CASH", use_count=5)
    engine = api.svc.app.state.engine
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite stores a NUL character; PostgreSQL refuses it as data")
    refused = question(api, "sub_amara") | {"q_subject": "sub_\x00"}

    taken = await decisions.take_uses(engine, [question(api, "sub_amara"), refused, question(api, "sub_amara")])

    assert taken[0].id == taken[2].id == consent["id"]
    assert isinstance(taken[1], Exception)
    assert await uses_of(api, consent["id"]) == 2  # the failed group took nothing; each question again on its own


@pytest.mark.rule("SG-CONSENT-4")
async def test_a_revocation_is_seen_by_every_decision_of_the_next_batches(api):
    await api.purpose("CASH")
    consent = await api.granted("CASH")
    assert {(await api.decide("CASH"))["decision"] for _ in range(3)} == {"permit"}
    assert (await api.act(consent["id"], "revoke")).status_code == 200

    answers = await asyncio.gather(*(api.decide("CASH") for _ in range(10)))

    assert {answer["rule_id"] for answer in answers} == {"SG-CONSENT-4"}
