"""A person reads what the registry holds about them: decrypted, and without the UIN."""

from __future__ import annotations

from tests.identity.access_helpers import RELYING_PARTY, call, enrolled
from tests.identity.identity_helpers import SUBJECT, another_person


async def test_a_person_reads_their_own_record_without_the_uin(api) -> None:
    body = another_person(address="4 Baobab Lane, Sandbox City", sex=None, nationality=None)
    person = await enrolled(api, **{k: v for k, v in body.items() if k != "consents"})
    response = await call(api, "GET", "/v1/me/record", roles=SUBJECT, subject_ref=person.sub)
    assert response.status_code == 200, response.text
    record = response.json()
    registrar_view = await api.person(person.person_id)
    for field in ("given_name", "family_name", "date_of_birth", "address", "phone", "email", "residency_status"):
        assert record[field] == registrar_view[field]
    assert record["sex"] is None and record["nationality"] is None
    assert record["consents"] == registrar_view["consents"]
    assert record["status"] == "active" and record["uin_issued_at"] is not None
    assert "uin" not in record and person.uin not in response.text


async def test_only_the_person_reads_it(api) -> None:
    person = await enrolled(api)
    response = await call(api, "GET", "/v1/me/record", roles=RELYING_PARTY, subject_ref=person.sub)
    assert response.status_code == 403
    assert response.json()["rule_id"] == "SG-SEC-1"
    nobody = await call(api, "GET", "/v1/me/record", roles=SUBJECT, subject_ref="sub_nonesuch")
    assert nobody.status_code == 404
