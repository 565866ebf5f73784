"""Court orders: oversight records them; a law-enforcement member fetches within one, and only within it."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.exchange.exchange_helpers import CIVIL, OVERSIGHT, POLICE, SOCIAL, ExchangeApi

AMARA = "sub_amara"
POLICE_MEMBER = "SBX:LAW:POLICE"
POLICE_CLIENT = "le-police"


@pytest.fixture
async def police(api: ExchangeApi) -> ExchangeApi:
    await api.birth(AMARA)
    await api.birth("sub_other", given_name="Kofi")
    await api.consumer(
        POLICE_CLIENT,
        member="POLICE",
        member_class="LAW",
        grants={CIVIL: (["given_name", "family_name", "date_of_birth", "place_of_birth"], ["CRIMINAL_INVESTIGATION"])},
    )
    api.provider_calls.calls.clear()
    return api


def order_body(api: ExchangeApi, **overrides):  # type: ignore[no-untyped-def]
    now = api.gateway.clock.now()
    body = {
        "reference": "HC/2026/117",
        "court": "High Court (sandbox)",
        "subject": AMARA,
        "member_id": POLICE_MEMBER,
        "services": [CIVIL],
        "fields": ["given_name", "date_of_birth"],
        "expires_at": (now + timedelta(days=30)).isoformat(),
        "disclose_after": (now + timedelta(days=60)).isoformat(),
    }
    body.update(overrides)
    return body


async def record(api: ExchangeApi, **overrides) -> dict:  # type: ignore[no-untyped-def, type-arg]
    return await api.ok("POST", "/v1/court-orders", 201, roles=OVERSIGHT, json=order_body(api, **overrides))  # type: ignore[no-any-return]


async def fetch_under(api: ExchangeApi, order_id: str | None, sub: str = AMARA, **kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("fields", ["given_name", "family_name", "date_of_birth"])
    kwargs.setdefault("roles", POLICE)
    return await api.fetch(
        CIVIL,
        client_id=POLICE_CLIENT,
        sub=sub,
        purpose="CRIMINAL_INVESTIGATION",
        legal_basis="court_order",
        court_order_id=order_id,
        **kwargs,
    )


@pytest.mark.rule("SG-LAWFUL-1")
async def test_within_a_valid_order_fields_outside_it_are_stripped(police: ExchangeApi):
    order = await record(police)
    response = await fetch_under(police, order["id"])
    assert response.status_code == 200, response.text
    assert response.json()["record"] == {"given_name": "Amara", "date_of_birth": "1990-04-02"}
    assert {"field": "family_name", "rule_id": "SG-LAWFUL-1"} in response.json()["withheld"]
    assert response.headers["X-DPI-Fields-Returned"] == "given_name,date_of_birth"
    assert response.json()["legal_basis"] == "court_order"


@pytest.mark.rule("SG-LAWFUL-1")
async def test_no_order_an_unknown_one_or_another_subjects_is_denied_and_the_provider_never_called(police: ExchangeApi):
    order = await record(police)
    for response in (
        await fetch_under(police, None),
        await fetch_under(police, "cor_unknown"),
        await fetch_under(police, order["id"], sub="sub_other"),
    ):
        assert response.status_code == 403, response.text
        assert response.json()["rule_id"] == "SG-LAWFUL-1"
    assert police.provider_calls.reads == 0


@pytest.mark.rule("SG-LAWFUL-1")
async def test_an_expired_or_revoked_order_is_denied(police: ExchangeApi):
    order = await record(police)
    assert (await fetch_under(police, order["id"])).status_code == 200
    police.gateway.clock.advance(days=31)
    expired = await fetch_under(police, order["id"])
    assert expired.status_code == 403 and expired.json()["rule_id"] == "SG-LAWFUL-1"
    assert "expired" in expired.json()["detail"]

    police.gateway.clock.advance(days=-31)
    await police.ok("DELETE", f"/v1/court-orders/{order['id']}", roles=OVERSIGHT)
    revoked = await fetch_under(police, order["id"])
    assert revoked.status_code == 403 and revoked.json()["rule_id"] == "SG-LAWFUL-1"
    assert police.provider_calls.reads == 1


@pytest.mark.rule("SG-LAWFUL-1")
async def test_an_order_authorises_one_member_for_the_services_it_names(police: ExchangeApi):
    order = await record(police)
    await police.consumer(
        "le-other",
        member="OTHERPOLICE",
        member_class="LAW",
        grants={CIVIL: (["given_name"], ["CRIMINAL_INVESTIGATION"])},
    )
    other_member = await police.fetch(
        CIVIL,
        client_id="le-other",
        sub=AMARA,
        purpose="CRIMINAL_INVESTIGATION",
        legal_basis="court_order",
        court_order_id=order["id"],
        roles=POLICE,
    )
    assert other_member.status_code == 403 and other_member.json()["rule_id"] == "SG-LAWFUL-1"
    not_a_police_role = await fetch_under(police, order["id"], roles=("relying_party",))
    assert not_a_police_role.status_code == 403 and not_a_police_role.json()["rule_id"] == "SG-LAWFUL-1"
    assert police.provider_calls.reads == 0


@pytest.mark.rule("SG-ACCESS-2")
async def test_the_response_carries_the_orders_deferral_for_the_audit_event(police: ExchangeApi):
    order = await record(police)
    response = await fetch_under(police, order["id"])
    assert response.headers["X-DPI-Disclose-After"] == order["disclose_after"].replace("Z", "+00:00")
    no_deferral = await record(police, disclose_after=None, reference="HC/2026/118")
    assert "X-DPI-Disclose-After" not in (await fetch_under(police, no_deferral["id"])).headers


@pytest.mark.rule("SG-ACCESS-2")
async def test_a_deferral_beyond_the_policy_maximum_is_refused(police: ExchangeApi):
    too_late = (police.gateway.clock.now() + timedelta(days=181)).isoformat()
    response = await police.call(
        "POST", "/v1/court-orders", roles=OVERSIGHT, json=order_body(police, disclose_after=too_late)
    )
    assert response.status_code == 422, response.text
    assert response.json()["rule_id"] == "SG-ACCESS-2"


async def test_orders_are_kept_by_oversight_and_read_by_auditors(police: ExchangeApi):
    body = order_body(police)
    denied = await police.call("POST", "/v1/court-orders", roles=("auditor",), json=body)
    assert denied.status_code == 403 and denied.json()["rule_id"] == "SG-SEC-1"
    order = await record(police)
    assert (await police.ok("GET", f"/v1/court-orders/{order['id']}", roles=("auditor",)))["subject"] == AMARA
    not_police = await police.call(
        "POST", "/v1/court-orders", roles=OVERSIGHT, json=order_body(police, member_id="SBX:GOV:CRA")
    )
    assert not_police.status_code == 422
    outside = await police.call(
        "POST", "/v1/court-orders", roles=OVERSIGHT, json=order_body(police, services=[SOCIAL], fields=["given_name"])
    )
    assert outside.status_code == 422


@pytest.mark.parametrize("field", ["expires_at", "disclose_after"])
@pytest.mark.parametrize("value", ["9999-12-31T23:00:00-05:00", "0001-01-01T01:00:00+05:00", "2026-12-01T00:00:00"])
async def test_an_order_time_out_of_range_or_without_an_offset_is_a_422_and_nothing_is_recorded(
    police: ExchangeApi, field: str, value: str
):
    response = await police.call("POST", "/v1/court-orders", roles=OVERSIGHT, json=order_body(police, **{field: value}))
    assert response.status_code == 422, response.text
    assert response.json()["errors"][0]["loc"] == ["body", field]
    listed = await police.ok("GET", "/v1/court-orders", roles=OVERSIGHT)
    assert listed == {"items": [], "next_cursor": None}


async def test_the_order_list_pages_oldest_first(police: ExchangeApi):
    recorded = [(await record(police, reference=f"HC/2026/{n}"))["id"] for n in range(3)]
    first = await police.ok("GET", "/v1/court-orders", roles=("auditor",), params={"limit": 2})
    rest = await police.ok("GET", "/v1/court-orders", roles=("auditor",), params={"cursor": first["next_cursor"]})
    assert [o["id"] for o in first["items"] + rest["items"]] == recorded and rest["next_cursor"] is None
