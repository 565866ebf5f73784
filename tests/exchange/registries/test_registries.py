"""The simulated registries: real records with their own rules, written by their officers through the exchange."""

from __future__ import annotations

from tests.exchange.exchange_helpers import ExchangeApi, table_rows

CIVIL_OFFICER = ("civil_registrar",)
SOCIAL_OFFICER = ("social_registry_officer",)


async def test_a_birth_records_the_child_and_its_parent_links_and_queues_an_event(api: ExchangeApi, exchange):
    await api.birth("sub_mum")
    birth = await api.birth("sub_baby", given_name="Nia", date_of_birth="2025-06-01", mother="sub_mum")
    assert birth["subject"] == "sub_baby"
    links = await table_rows(exchange, "civil_parent_links")
    assert [(link["child_sub"], link["parent_sub"], link["relation"]) for link in links] == [
        ("sub_baby", "sub_mum", "mother")
    ]
    events = [
        row for row in await table_rows(exchange, "outbox") if row["subject"] == "exchange.civil.birth_registered"
    ]
    assert [e["payload"]["subject"] for e in events] == ["sub_mum", "sub_baby"]
    twice = await api.call(
        "POST",
        "/v1/registries/civil/births",
        roles=CIVIL_OFFICER,
        json={
            "subject": "sub_baby",
            "given_name": "N",
            "family_name": "O",
            "date_of_birth": "2025-06-01",
            "place_of_birth": "X",
        },
    )
    assert twice.status_code == 409 and twice.json()["code"] == "exchange.registration_conflict"


async def test_deaths_and_marriages_follow_the_registers_rules(api: ExchangeApi, exchange):
    await api.birth("sub_a")
    await api.birth("sub_b", given_name="Kofi")
    marriage = {"spouse_a": "sub_a", "spouse_b": "sub_b", "date_of_marriage": "2015-05-05", "place": "Town Hall"}
    assert (
        await api.call("POST", "/v1/registries/civil/marriages", roles=CIVIL_OFFICER, json=marriage)
    ).status_code == 201
    assert (
        await api.call("POST", "/v1/registries/civil/marriages", roles=CIVIL_OFFICER, json=marriage)
    ).status_code == 409
    early = {"subject": "sub_a", "date_of_death": "1980-01-01", "place_of_death": "Home"}
    assert (await api.call("POST", "/v1/registries/civil/deaths", roles=CIVIL_OFFICER, json=early)).status_code == 422
    death = {"subject": "sub_a", "date_of_death": "2026-01-01", "place_of_death": "Home"}
    assert (await api.call("POST", "/v1/registries/civil/deaths", roles=CIVIL_OFFICER, json=death)).status_code == 201
    assert (await api.call("POST", "/v1/registries/civil/deaths", roles=CIVIL_OFFICER, json=death)).status_code == 409
    (person,) = [p for p in await table_rows(exchange, "civil_persons") if p["sub"] == "sub_a"]
    assert person["vital_status"] == "deceased"
    subjects = [r["subject"] for r in await table_rows(exchange, "outbox")]
    assert subjects.count("exchange.civil.death_registered") == 1


async def test_a_person_belongs_to_one_household(api: ExchangeApi):
    member = {"subject": "sub_a", "relationship": "head", "date_of_birth": "1950-01-01", "disability_flag": False}
    household = await api.household("hh_1", [member])
    assert household["members"][0]["subject"] == "sub_a"
    elsewhere = await api.call(
        "PUT",
        "/v1/registries/social/households/hh_2",
        roles=SOCIAL_OFFICER,
        json={"income_band": "low", "district": "D", "region": "R", "members": [member]},
    )
    assert elsewhere.status_code == 409
    replaced = await api.household("hh_1", [member], income_band="middle")
    assert replaced["income_band"] == "middle"
    read = await api.ok("GET", "/v1/registries/social/households/hh_1", roles=SOCIAL_OFFICER)
    assert read["income_band"] == "middle" and len(read["members"]) == 1


async def test_officer_endpoints_need_the_officers_role(api: ExchangeApi):
    response = await api.call(
        "PUT",
        "/v1/registries/social/households/hh_1",
        roles=("civil_registrar",),
        json={
            "income_band": "low",
            "district": "D",
            "region": "R",
            "members": [{"subject": "s", "relationship": "head", "date_of_birth": "1990-01-01"}],
        },
    )
    assert response.status_code == 403 and response.json()["rule_id"] == "SG-SEC-1"
