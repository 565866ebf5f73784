"""A name that looks like a UIN (finding 7): refused at enrolment and correction with a clear 422, and a record
that already holds one never turns the offline credential into a 500."""

from __future__ import annotations

from sqlalchemy import update

from services.identity.persons.models import PersonAttribute
from services.identity.persons.service import attribute_context
from services.identity.persons.uin import generate_uin
from tests.identity.access_helpers import enrolled
from tests.identity.identity_helpers import SUBJECT, another_person


async def test_a_name_holding_a_uin_shaped_number_is_refused_clearly(api) -> None:
    uin = generate_uin()
    for written in (uin, f"{uin[:4]} {uin[4:8]} {uin[8:]}", f"{uin[:4]}-{uin[4:8]}-{uin[8:]}"):
        response = await api.enrol({**another_person(), "given_name": f"Amara {written}"})
        assert response.status_code == 422, response.text
        assert "UIN" in response.text and "given_name" in response.text


async def test_other_numbers_in_a_name_are_kept_and_the_credential_is_issued(api) -> None:
    uin = generate_uin()
    not_a_uin = uin[:-1] + str((int(uin[-1]) + 1) % 10)
    person = await enrolled(api, given_name=f"Amara {not_a_uin}")
    issued = await api.call("POST", "/v1/me/offline-credential", roles=SUBJECT, subject_ref=person.sub)
    assert issued.status_code == 201, issued.text


async def test_a_correction_to_such_a_name_is_refused(api) -> None:
    person = await enrolled(api)
    body = {"field": "given_name", "value": f"Amara {generate_uin()}", "reason": "typo"}
    response = await api.call("POST", "/v1/me/corrections", roles=SUBJECT, subject_ref=person.sub, json=body)
    assert response.status_code == 422, response.text


async def test_a_record_enrolled_before_the_rule_gets_a_409_not_a_500(api, identity) -> None:
    person = await enrolled(api)
    rt = identity.app.state.identity
    key_id, ciphertext = rt.keyring.cipher.encrypt(
        f"Amara {generate_uin()}", context=attribute_context(person.person_id, "given_name")
    )
    async with identity.app.state.sessionmaker() as session, session.begin():
        await session.execute(
            update(PersonAttribute)
            .where(PersonAttribute.person_id == person.person_id, PersonAttribute.name == "given_name")
            .values(key_id=key_id, ciphertext=ciphertext)
        )
    response = await api.call("POST", "/v1/me/offline-credential", roles=SUBJECT, subject_ref=person.sub)
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "identity.offline_credential_refused"
