"""Privacy by design across the identity service: nothing personal in clear at rest, no UIN outside registrar
responses, nothing personal in the logs."""

from __future__ import annotations

from typing import Any

import pytest
import structlog

from services.identity.client import find_uins
from services.identity.models import metadata
from tests.identity.identity_helpers import ADJUDICATOR, GATEWAY, REGISTRAR, synthetic_person, table_rows

TEMPLATE = "SYNTH-TEMPLATE-biometric-9c1d"
PERSON = synthetic_person(
    given_name="Wanjiru",
    family_name="Kamau-Achieng",
    phone="+000 555 7788",
    email="wanjiru.kamau@example.org",
    address="77 Baobab Lane, Sandbox City",
    date_of_birth="1979-11-05",
    biometric_template=TEMPLATE,
    consents={"biometric": True, "notices": True},
)


async def _exercise_every_endpoint(api) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    """Drive every identity flow once, as each role would, and return what a scan must never find."""
    person = await api.enrolled(PERSON)
    held = (await api.enrol(synthetic_person(**{**PERSON, "phone": "+000 555 7789"}))).json()
    await api.call("GET", f"/v1/adjudication-cases/{held['adjudication_case_id']}", roles=ADJUDICATOR)
    await api.decide_case(held["adjudication_case_id"], "distinct")
    second_uin = (await api.person(held["person_id"]))["uin"]
    token = await api.pairwise_token(person["sub"], "rp-bank-1")
    await api.resolve("pairwise_token", token, "rp-bank-1")
    vid = (await api.as_subject(person["sub"], "POST", "/v1/me/vids", {})).json()
    await api.as_subject(person["sub"], "GET", "/v1/me/vids")
    await api.resolve("vid", vid["vid"])
    correction = (
        await api.as_subject(
            person["sub"],
            "POST",
            "/v1/me/corrections",
            {"field": "family_name", "value": "Kamau-Odhiambo", "reason": "Wrong surname recorded"},
        )
    ).json()
    await api.as_subject(person["sub"], "GET", "/v1/me/corrections")
    await api.call("GET", "/v1/corrections", roles=REGISTRAR)
    await api.call(
        "POST", f"/v1/corrections/{correction['id']}/decision", roles=REGISTRAR, json={"decision": "approve"}
    )
    await api.call("POST", "/v1/corrections/escalate-overdue", roles=("oversight",))
    await api.as_subject(person["sub"], "DELETE", f"/v1/me/vids/{vid['id']}")
    await api.resolve("vid", vid["vid"])
    await api.call("GET", f"/v1/persons/{person['person_id']}", roles=("relying_party",))
    return {"uins": [person["uin"], second_uin], "vid": vid["vid"], "token": token}


def _texts(value: Any) -> list[str]:
    if isinstance(value, bytes):
        return [value.decode("latin-1")]
    if isinstance(value, dict):
        return [text for item in value.values() for text in _texts(item)]
    if isinstance(value, list):
        return [text for item in value for text in _texts(item)]
    return [str(value)]


@pytest.mark.rule("SG-SEC-1")
async def test_the_raw_database_holds_no_personal_data_in_clear(api, identity):
    seen = await _exercise_every_endpoint(api)
    secrets = [
        "Wanjiru", "Kamau", "Odhiambo", "555 7788", "5557788", "wanjiru.kamau", "Baobab", "1979-11-05",
        TEMPLATE, "Wrong surname", *seen["uins"], seen["vid"], seen["token"],
    ]  # fmt: skip

    stored = {name: await table_rows(identity, name) for name in metadata.tables}

    assert stored["persons"] and stored["person_attributes"] and stored["vids"] and stored["correction_cases"]
    for table, rows in stored.items():
        for row in rows:
            for text in _texts(row):
                leaked = [s for s in secrets if s.casefold() in text.casefold()]
                assert not leaked, f"{table} holds {leaked} in clear"


@pytest.mark.rule("SG-TOKEN-1")
async def test_no_uin_in_any_response_but_the_registrars(api):
    seen = await _exercise_every_endpoint(api)

    others = [(roles, r) for roles, r in api.seen if "registrar" not in roles]
    registrar = [r for roles, r in api.seen if "registrar" in roles]

    assert {roles for roles, _ in others} >= {ADJUDICATOR, GATEWAY, ("subject",), ("oversight",), ("relying_party",)}
    for roles, response in others:
        for uin in seen["uins"]:
            assert uin not in response.text, f"a UIN reached {roles} via {response.request.url.path}"
        assert not find_uins(response.text), response.request.url.path
    assert any(seen["uins"][0] in r.text for r in registrar)  # the scan would see one if it were there


@pytest.mark.rule("SG-MIN-2")
def test_gateway_and_adjudicator_answers_carry_no_demographics():
    from services.identity.adjudication.schemas import AdjudicationCaseRead
    from services.identity.persons.schemas import PERSONAL_FIELDS
    from services.identity.tokens.schemas import PairwiseTokenRead, SubjectResolution
    from services.identity.vids.schemas import VidRead

    for schema in (SubjectResolution, PairwiseTokenRead, AdjudicationCaseRead, VidRead):
        assert not set(schema.model_fields) & {*PERSONAL_FIELDS, "uin"}, schema.__name__


async def test_logs_carry_ids_not_personal_data(api):
    with structlog.testing.capture_logs() as logs:
        seen = await _exercise_every_endpoint(api)

    logged = repr(logs)
    assert "identity.person.enrolled" in logged
    for secret in ("Wanjiru", "Kamau", "555 7788", "wanjiru.kamau", "Baobab", "1979-11-05", TEMPLATE, *seen["uins"]):
        assert secret not in logged
