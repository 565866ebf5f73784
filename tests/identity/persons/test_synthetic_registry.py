"""The synthetic registry loader: deterministic people, stored exactly as enrolments store them."""

from __future__ import annotations

from services.identity.persons.synthetic import load_synthetic_registry, synthetic_people
from tests.identity.identity_helpers import REGISTRAR, table_rows


def test_the_same_seed_makes_the_same_people_and_any_slice_stands_alone():
    first = [p.values for p in synthetic_people(7, 20)]
    assert first == [p.values for p in synthetic_people(7, 20)]
    assert [p.values for p in synthetic_people(7, 5, start=15)] == first[15:]
    assert first != [p.values for p in synthetic_people(8, 20)]


async def test_loaded_people_read_back_like_enrolled_ones_and_take_part_in_dedup(identity, api):
    written = await load_synthetic_registry(
        identity.app.state.sessionmaker, identity.app.state.identity, seed=3, count=40, batch_size=16
    )
    assert written == 40
    people = await table_rows(identity, "persons")
    assert len(people) == 40 and all(p["status"] == "active" for p in people)

    loaded = next(iter(synthetic_people(3, 1)))
    record = await api.call("GET", "/v1/persons/per_syn_3_00000000", roles=REGISTRAR)
    assert record.status_code == 200, record.text
    assert record.json()["given_name"] == loaded.values["given_name"]
    assert record.json()["date_of_birth"] == loaded.values["date_of_birth"]
    assert len(record.json()["uin"]) == 12

    again = {k: v for k, v in loaded.values.items() if v is not None}
    response = await api.call("POST", "/v1/enrolments", roles=REGISTRAR, json=again)
    assert response.status_code == 409, "a person already in the loaded registry is caught by deduplication"

    attributes = await table_rows(identity, "person_attributes")
    assert not any(loaded.values["family_name"].encode() in bytes(a["ciphertext"]) for a in attributes)


async def test_uin_collisions_are_drawn_again_never_reused(identity, api, monkeypatch):
    """A million draws from 8 x 10^10 UINs collide a few times; the loader must never reuse one."""
    from services.identity.persons import synthetic
    from services.identity.persons.uin import generate_uin

    first = await load_synthetic_registry(
        identity.app.state.sessionmaker, identity.app.state.identity, seed=5, count=1, batch_size=10
    )
    existing_uin = (await api.call("GET", "/v1/persons/per_syn_5_00000000", roles=REGISTRAR)).json()["uin"]
    fresh = [generate_uin() for _ in range(4)]
    # Draws: the existing UIN (taken in the database), a repeat within the batch, then fresh ones.
    draws = iter([existing_uin, fresh[0], fresh[0], fresh[1], fresh[2], fresh[3]])
    monkeypatch.setattr(synthetic, "generate_uin", lambda: next(draws))
    written = await load_synthetic_registry(
        identity.app.state.sessionmaker, identity.app.state.identity, seed=5, count=3, start=1, batch_size=10
    )
    assert (first, written) == (1, 3)
    uins = [
        (await api.call("GET", f"/v1/persons/per_syn_5_0000000{n}", roles=REGISTRAR)).json()["uin"] for n in range(4)
    ]
    assert len(set(uins)) == 4 and uins[0] == existing_uin
