"""Keys: a master secret created on first run outside the repository, field keys that rotate by id, and
ciphertexts bound to their person and field."""

from __future__ import annotations

import stat

import pytest

from tests.identity.identity_helpers import IdentityApi, another_person, table_rows


async def test_the_master_secret_is_created_on_first_run_with_owner_only_access(identity):
    path = identity.settings.resolved_keys_dir / "identity-master.secret"
    assert path.exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(path.read_bytes()) == 32


async def test_every_personal_field_is_stored_under_its_key_id(api, identity):
    person = await api.enrolled()
    attributes = [a for a in await table_rows(identity, "person_attributes") if a["person_id"] == person["person_id"]]
    assert {a["name"] for a in attributes} >= {"given_name", "family_name", "date_of_birth", "phone", "uin"}
    assert {a["key_id"] for a in attributes} == {"f1"}


async def test_a_rotated_key_still_reads_old_values_and_encrypts_new_ones(api, identity, service_factory, gateway):
    before = await api.enrolled(another_person())
    rotated = await service_factory(
        "identity",
        database_url=identity.settings.database_url,
        database_schema=identity.settings.database_schema,
        field_key_id="f2",
        field_key_ids_retired=["f1"],
    )
    api2 = IdentityApi(rotated, gateway)

    assert (await api2.person(before["person_id"]))["uin"] == before["uin"]
    after = await api2.enrolled(another_person())
    key_ids = {(a["person_id"], a["key_id"]) for a in await table_rows(rotated, "person_attributes")}
    assert {key_id for person_id, key_id in key_ids if person_id == before["person_id"]} == {"f1"}
    assert {key_id for person_id, key_id in key_ids if person_id == after["person_id"]} == {"f2"}


@pytest.mark.rule("SG-SEC-1")
async def test_a_ciphertext_moved_to_another_person_does_not_decrypt(api, identity):
    first, second = await api.enrolled(another_person()), await api.enrolled(another_person())
    from sqlalchemy import update

    from services.identity.persons.models import PersonAttribute

    async with identity.app.state.sessionmaker() as session:
        stolen = await session.get(PersonAttribute, (first["person_id"], "given_name"))
        await session.execute(
            update(PersonAttribute)
            .where(PersonAttribute.person_id == second["person_id"], PersonAttribute.name == "given_name")
            .values(ciphertext=stolen.ciphertext, key_id=stolen.key_id)
        )
        await session.commit()

    response = await api.call("GET", f"/v1/persons/{second['person_id']}", roles=("registrar",))

    assert response.status_code == 500
    assert "Kofi" not in response.text
