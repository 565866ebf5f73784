"""Deduplication sees through what a screen does not show (SG-ID-1): invisible characters, compatibility forms,
combining marks and letters from other scripts that look the same do not make a second person, while the name is
kept and shown as written."""

from __future__ import annotations

import pytest

from services.identity.persons.matching import matching_name
from services.identity.persons.service import person as person_service
from tests.identity.identity_helpers import REGISTRAR, synthetic_person, table_rows

WRITTEN = {
    "zero-width space": "Am\u200bara",
    "soft hyphen": "Ama\u00adra",
    "zero-width joiner": "A\u200dmara",
    "word joiner": "Amara\u2060",
    "byte order mark": "\ufeffAmara",
    "variation selector": "Am\ufe0fara",
    "combining mark": "Ama\u0301ra",
    "precomposed accent": "Am\u00e1ra",
    "full-width letters": "\uff21\uff4d\uff41\uff52\uff41",
    "Cyrillic a": "Am\u0430r\u0430",
    "Greek capital alpha": "\u0391mara",
    "Cyrillic capital A": "\u0410mara",
    "upper case": "AMARA",
}


@pytest.mark.rule("SG-ID-1")
@pytest.mark.parametrize("written", list(WRITTEN.values()), ids=list(WRITTEN))
async def test_the_same_person_written_differently_is_held_not_enrolled_again(api, written) -> None:
    first = await api.enrol(synthetic_person())
    assert first.status_code == 201, first.text
    again = await api.enrol(synthetic_person(given_name=written))
    assert again.status_code == 409, again.text
    assert again.json()["code"] == "identity.duplicate_suspected"
    persons = await table_rows(api.svc, "persons")
    assert len([p for p in persons if p["status"] == "active"]) == 1, "no second UIN"


async def test_the_name_is_kept_as_written(api) -> None:
    written = "Ama\u0301ra"  # a combining accent, as the person's documents spell it
    enrolled = await api.enrol(synthetic_person(given_name=written, family_name="Nw\u00f3su"))
    assert enrolled.status_code == 201, enrolled.text
    record = await api.call("GET", f"/v1/persons/{enrolled.json()['person_id']}", roles=REGISTRAR)
    assert record.json()["given_name"] == written
    assert record.json()["family_name"] == "Nw\u00f3su"


async def test_different_people_stay_different(api) -> None:
    for given in ("Amara", "Amina", "Omara", "Amaro"):
        assert (await api.enrol(synthetic_person(given_name=given))).status_code == 201


def test_each_class_reduces_to_the_plain_name() -> None:
    for written in WRITTEN.values():
        assert matching_name(f"{written} Okafor") == "amara okafor", repr(written)
    assert matching_name("Ada 1ovelace") == matching_name("Ada lovelace")
    assert matching_name("O'Brien  Smith") == "obrien smith"
    assert matching_name("\u5f20\u4f1f") == "\u5f20\u4f1f", "names in other scripts keep their letters"


async def test_reindexing_brings_people_enrolled_under_the_old_rules_into_the_new_index(api, identity) -> None:
    enrolled = await api.enrol(synthetic_person(given_name="Am\u200bara"))
    person_id = enrolled.json()["person_id"]
    async with identity.app.state.sessionmaker() as session:
        from services.identity.persons.models import Person

        person = await session.get(Person, person_id)
        assert person is not None
        person.name_dob_index = "0" * 64  # as computed by an older rule
        await session.commit()
    async with identity.app.state.sessionmaker() as session, session.begin():
        assert await person_service.reindex_names(session, rt=identity.app.state.identity, batch=1) == 1
    async with identity.app.state.sessionmaker() as session, session.begin():
        assert await person_service.reindex_names(session, rt=identity.app.state.identity) == 0
    again = await api.enrol(synthetic_person())
    assert again.status_code == 409, "the reindexed person is found under the new rules"
