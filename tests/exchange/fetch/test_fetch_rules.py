"""A fetch through the exchange, rule by rule: each denial names its rule and leaves the provider uncalled; each
permit releases only permitted ∩ covered ∩ offered fields and says which in X-DPI-Fields-Returned."""

from __future__ import annotations

import pytest

from tests.exchange.exchange_helpers import BENEFIT_CHECK, CASH, CIVIL, POLICE, SOCIAL, ExchangeApi

AMARA, KID = "sub_amara", "sub_kid"
RP_ID = "rp-benefits"
CIVIL_GRANT = ["given_name", "family_name", "date_of_birth", "ethnicity", "vital_status"]


@pytest.fixture
async def world(api: ExchangeApi) -> ExchangeApi:
    await api.birth(AMARA)
    await api.birth(KID, given_name="Nia", date_of_birth="2024-01-05", mother=AMARA)
    await api.household(
        "hh_1",
        [
            {"subject": AMARA, "relationship": "head", "date_of_birth": "1990-04-02", "disability_flag": True},
            {"subject": KID, "relationship": "child", "date_of_birth": "2024-01-05"},
        ],
    )
    await api.consumer(
        RP_ID,
        grants={
            CIVIL: (CIVIL_GRANT, [BENEFIT_CHECK]),
            SOCIAL: (
                ["household_size", "income_band", "disability_flag", "children_under_5", "district"],
                [BENEFIT_CHECK, CASH],
            ),
        },
    )
    api.provider_calls.calls.clear()
    return api


def assert_denied(response, rule_id: str, status: int = 403) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["rule_id"] == rule_id
    assert "X-DPI-Fields-Returned" not in response.headers


@pytest.mark.rule("SG-CONSENT-1")
async def test_valid_consent_releases_the_consented_fields(world: ExchangeApi):
    response = await world.consented(CIVIL, ["given_name", "date_of_birth"], client_id=RP_ID, sub=AMARA)
    assert response.status_code == 200, response.text
    assert response.json()["record"] == {"given_name": "Amara", "date_of_birth": "1990-04-02"}
    assert response.headers["X-DPI-Fields-Returned"] == "given_name,date_of_birth"
    assert world.provider_calls.reads == 1


@pytest.mark.rule("SG-CONSENT-1")
@pytest.mark.parametrize("basis", [None, "none", "contract"])
async def test_no_legal_basis_is_denied_and_the_provider_never_called(world: ExchangeApi, basis):
    response = await world.fetch(CIVIL, client_id=RP_ID, sub=AMARA, purpose=BENEFIT_CHECK, legal_basis=basis)
    assert_denied(response, "SG-CONSENT-1")
    assert world.provider_calls.reads == 0


@pytest.mark.rule("SG-CONSENT-1")
async def test_consent_basis_without_an_artefact_is_denied(world: ExchangeApi):
    response = await world.fetch(CIVIL, client_id=RP_ID, sub=AMARA, purpose=BENEFIT_CHECK, legal_basis="consent")
    assert_denied(response, "SG-CONSENT-1")
    assert world.provider_calls.reads == 0


@pytest.mark.rule("SG-CONSENT-1")
async def test_a_statute_only_covers_the_purposes_registered_for_it(world: ExchangeApi):
    permitted = await world.fetch(SOCIAL, client_id=RP_ID, sub=AMARA, purpose=CASH, legal_basis="statute")
    assert permitted.status_code == 200, permitted.text
    other = await world.fetch(SOCIAL, client_id=RP_ID, sub=AMARA, purpose=BENEFIT_CHECK, legal_basis="statute")
    assert_denied(other, "SG-CONSENT-1")
    assert world.provider_calls.reads == 1


@pytest.mark.rule("SG-SEC-1")
async def test_deny_by_default_without_an_access_right(world: ExchangeApi):
    unregistered = await world.consented(CIVIL, ["given_name"], client_id="rp-unknown", sub=AMARA)
    assert_denied(unregistered, "SG-SEC-1")
    await world.consumer("rp-no-rights", member="OTHER")
    no_right = await world.consented(CIVIL, ["given_name"], client_id="rp-no-rights", sub=AMARA)
    assert_denied(no_right, "SG-SEC-1")
    wrong_purpose = await world.consented(CIVIL, ["given_name"], client_id=RP_ID, sub=AMARA, purpose="MARKETING")
    assert_denied(wrong_purpose, "SG-SEC-1")
    assert world.provider_calls.reads == 0


@pytest.mark.rule("SG-SEC-1")
async def test_a_revoked_access_right_denies_the_next_fetch(world: ExchangeApi):
    rights = (await world.public(f"/v1/access-rights?service={CIVIL}")).json()
    (right,) = [r for r in rights if r["client_subsystem_id"].endswith(RP_ID)]
    assert (await world.consented(CIVIL, ["given_name"], client_id=RP_ID, sub=AMARA)).status_code == 200
    await world.ok("DELETE", f"/v1/services/{CIVIL}/access-rights/{right['id']}", roles=("exchange_admin",))
    assert_denied(await world.consented(CIVIL, ["given_name"], client_id=RP_ID, sub=AMARA), "SG-SEC-1")
    assert world.provider_calls.reads == 1


@pytest.mark.rule("SG-MIN-1")
async def test_only_permitted_and_consented_fields_are_returned(world: ExchangeApi):
    response = await world.consented(
        CIVIL,
        ["given_name", "sex", "vital_status"],
        client_id=RP_ID,
        sub=AMARA,
        fields=["given_name", "family_name", "sex", "vital_status", "shoe_size"],
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["record"] == {"given_name": "Amara", "vital_status": "alive"}
    assert response.headers["X-DPI-Fields-Returned"] == "given_name,vital_status"
    withheld = {w["field"]: w["rule_id"] for w in body["withheld"]}
    # family_name: permitted but not consented; sex: consented but not permitted; shoe_size: no such field.
    assert withheld == {"family_name": "SG-MIN-1", "sex": "SG-MIN-1", "shoe_size": "SG-MIN-1"}
    (call,) = [key for key in world.provider_calls.calls if "/persons/" in key]
    assert call == f"GET /civil/v1/persons/{AMARA}"


@pytest.mark.rule("SG-MIN-1")
async def test_nothing_releasable_is_denied_before_the_provider(world: ExchangeApi):
    response = await world.consented(CIVIL, ["sex"], client_id=RP_ID, sub=AMARA)
    assert_denied(response, "SG-MIN-1")
    assert world.provider_calls.reads == 0


@pytest.mark.rule("SG-NONDISC-1")
async def test_ethnicity_never_leaves_for_a_normal_purpose(world: ExchangeApi):
    response = await world.consented(CIVIL, CIVIL_GRANT, client_id=RP_ID, sub=AMARA)
    assert response.status_code == 200, response.text
    assert "ethnicity" not in response.json()["record"]
    assert {"field": "ethnicity", "rule_id": "SG-NONDISC-1"} in response.json()["withheld"]
    assert "ethnicity" not in response.headers["X-DPI-Fields-Returned"].split(",")


@pytest.mark.rule("SG-NONDISC-1")
async def test_a_protected_attribute_leaves_only_for_the_purpose_a_law_requires_it_for(world: ExchangeApi):
    wanted = ["household_size", "disability_flag"]
    legal = await world.fetch(SOCIAL, client_id=RP_ID, sub=AMARA, purpose=CASH, legal_basis="statute", fields=wanted)
    assert legal.status_code == 200, legal.text
    assert legal.json()["record"] == {"household_size": 2, "disability_flag": True}
    other = await world.consented(SOCIAL, wanted, client_id=RP_ID, sub=AMARA, fields=wanted)
    assert other.status_code == 200, other.text
    assert other.json()["record"] == {"household_size": 2}
    assert other.json()["withheld"] == [{"field": "disability_flag", "rule_id": "SG-NONDISC-1"}]


@pytest.mark.rule("SG-XBORDER-1")
async def test_processing_outside_approved_jurisdictions_needs_a_consent_naming_it(api: ExchangeApi):
    await api.birth(AMARA)
    await api.consumer(
        "rp-abroad",
        member="ABROAD",
        member_class="COM",
        location="XX",
        grants={CIVIL: (["given_name"], [BENEFIT_CHECK])},
    )
    api.provider_calls.calls.clear()
    no_consent = await api.consented(CIVIL, ["given_name"], client_id="rp-abroad", sub=AMARA)
    assert_denied(no_consent, "SG-XBORDER-1", status=451)
    assert api.provider_calls.reads == 0
    covered = await api.consented(CIVIL, ["given_name"], client_id="rp-abroad", sub=AMARA, processing_location="XX")
    assert covered.status_code == 200, covered.text
    assert api.provider_calls.reads == 1


async def test_an_unknown_subject_is_the_providers_404_after_all_checks(world: ExchangeApi):
    response = await world.consented(CIVIL, ["given_name"], client_id=RP_ID, sub="sub_nobody")
    assert response.status_code == 404, response.text
    assert response.json()["code"] == "exchange.record_not_found"


async def test_fetch_needs_a_consumer_role_and_an_assertion(world: ExchangeApi):
    assert (await world.svc.client.post("/v1/fetch", json={"service": CIVIL})).status_code == 401
    response = await world.consented(CIVIL, ["given_name"], client_id=RP_ID, sub=AMARA, roles=("subject",))
    assert_denied(response, "SG-SEC-1")
    police = await world.fetch(
        CIVIL, client_id=RP_ID, sub=AMARA, purpose=BENEFIT_CHECK, legal_basis="court_order", roles=POLICE
    )
    assert_denied(police, "SG-LAWFUL-1")
    assert world.provider_calls.reads == 0


async def test_providers_answer_only_requests_the_exchange_signed(exchange):
    import httpx

    transport = httpx.ASGITransport(app=exchange.app.state.registries_app)
    async with httpx.AsyncClient(transport=transport, base_url="http://registries") as direct:
        assert (await direct.get(f"/civil/v1/persons/{AMARA}")).status_code == 401
        forged = {"X-DPI-Exchange-Request": "eyJhbGciOiJub25lIn0.e30."}
        assert (await direct.get(f"/civil/v1/persons/{AMARA}", headers=forged)).status_code == 401
