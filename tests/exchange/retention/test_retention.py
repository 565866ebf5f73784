"""Stored payloads: kept until retain_until, brought forward by consent revocation or expiry events, purged to a
disposition record and an event; reads after purge are 410 SG-RETAIN-1; reads for another purpose 403 SG-PURPOSE-2."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.common.bus import Event
from tests.exchange.exchange_helpers import ADMIN, BENEFIT_CHECK, CIVIL, ExchangeApi, table_rows

RP_ID = "rp-benefits"


@pytest.fixture
async def stored(api: ExchangeApi) -> tuple[ExchangeApi, dict]:  # type: ignore[type-arg]
    await api.birth("sub_a")
    await api.consumer(RP_ID, grants={CIVIL: (["given_name", "date_of_birth"], [BENEFIT_CHECK])})
    response = await api.consented(CIVIL, ["given_name"], client_id=RP_ID, sub="sub_a", retain=True)
    assert response.status_code == 200, response.text
    return api, response.json()["stored_payload"]


async def read(api: ExchangeApi, payload_id: str, purpose: str = BENEFIT_CHECK):  # type: ignore[no-untyped-def]
    return await api.call(
        "GET", f"/v1/stored-payloads/{payload_id}", roles=("relying_party",), client_id=RP_ID, purpose=purpose
    )


async def purge(api: ExchangeApi) -> int:
    return int((await api.ok("POST", "/v1/stored-payloads/purge", roles=ADMIN))["purged"])


async def consent_event(api: ExchangeApi, subject: str, **payload) -> None:  # type: ignore[no-untyped-def]
    body = {
        "consent_id": "cns_1",
        "subject": "sub_a",
        "requester": RP_ID,
        "purpose": BENEFIT_CHECK,
        "items": ["given_name"],
        "data_life_until": None,
        "at": api.gateway.clock.now().isoformat(),
        **payload,
    }
    await api.svc.bus.publish(Event(subject=subject, msg_id=f"evt_{subject}_{len(str(payload))}", payload=body))


@pytest.mark.rule("SG-RETAIN-1")
async def test_a_stored_payload_carries_the_services_retention_and_reads_back(stored):  # type: ignore[no-untyped-def]
    api, ref = stored
    now = api.gateway.clock.now()
    assert ref["retain_until"].replace("Z", "+00:00") == (now + timedelta(days=30)).isoformat()
    response = await read(api, ref["id"])
    assert response.status_code == 200, response.text
    assert response.json()["payload"] == {"given_name": "Amara"}


@pytest.mark.rule("SG-RETAIN-1")
async def test_past_retain_until_the_purge_deletes_it_records_the_disposition_and_reads_are_410(stored):  # type: ignore[no-untyped-def]
    api, ref = stored
    assert await purge(api) == 0
    api.gateway.clock.advance(days=30)
    assert (await read(api, ref["id"])).status_code == 410, "past retain_until it is gone even before the purge"
    assert await purge(api) == 1
    response = await read(api, ref["id"])
    assert response.status_code == 410
    assert response.json()["rule_id"] == "SG-RETAIN-1" and response.json()["disposition"] == "retention_period"
    (row,) = await table_rows(api.svc, "stored_payloads")
    assert row["payload"] is None and row["disposition"] == "retention_period" and row["purged_at"] is not None
    events = [r["payload"] for r in await table_rows(api.svc, "outbox") if r["subject"] == "exchange.payload.purged"]
    assert events == [
        {
            "payload_id": ref["id"],
            "disposition": "retention_period",
            "consent_id": "cns_1",
            "retain_until": row["retain_until"].isoformat(),
            "purged_at": row["purged_at"].isoformat(),
        }
    ]
    assert (await api.ok("GET", "/v1/message-log/verify", roles=("auditor",)))["ok"], "the log outlives payloads"


@pytest.mark.rule("SG-RETAIN-1")
async def test_a_revoked_consent_purges_after_the_grace_period(stored):  # type: ignore[no-untyped-def]
    api, ref = stored
    await consent_event(api, "consent.revoked")
    await consent_event(api, "consent.revoked")  # delivered twice: at least once, handled idempotently
    assert (await read(api, ref["id"])).status_code == 200, "within the grace period"
    api.gateway.clock.advance(hours=24)
    assert await purge(api) == 1
    response = await read(api, ref["id"])
    assert response.status_code == 410 and response.json()["disposition"] == "consent_revoked"


@pytest.mark.rule("SG-RETAIN-1")
async def test_an_expired_consent_ends_retention_at_its_data_life(stored):  # type: ignore[no-untyped-def]
    api, ref = stored
    data_life = (api.gateway.clock.now() + timedelta(days=3)).isoformat()
    await consent_event(api, "consent.expired", data_life_until=data_life)
    api.gateway.clock.advance(days=2)
    assert await purge(api) == 0
    api.gateway.clock.advance(days=1)
    assert await purge(api) == 1
    assert (await read(api, ref["id"])).json()["disposition"] == "consent_expired"


@pytest.mark.rule("SG-RETAIN-1")
async def test_other_consents_events_and_malformed_ones_change_nothing(stored):  # type: ignore[no-untyped-def]
    api, ref = stored
    await consent_event(api, "consent.revoked", consent_id="cns_other")
    await api.svc.bus.publish(Event(subject="consent.revoked", msg_id="evt_bad", payload={"consent_id": 3}))
    api.gateway.clock.advance(days=2)
    assert await purge(api) == 0
    assert (await read(api, ref["id"])).status_code == 200


@pytest.mark.rule("SG-PURPOSE-2")
async def test_a_stored_payload_is_not_reused_for_another_purpose(stored):  # type: ignore[no-untyped-def]
    api, ref = stored
    response = await read(api, ref["id"], purpose="MARKETING")
    assert response.status_code == 403 and response.json()["rule_id"] == "SG-PURPOSE-2"


async def test_only_the_consumer_that_stored_it_reads_it(stored):  # type: ignore[no-untyped-def]
    api, ref = stored
    other = await api.call(
        "GET", f"/v1/stored-payloads/{ref['id']}", roles=("relying_party",), client_id="rp-x", purpose=BENEFIT_CHECK
    )
    assert other.status_code == 404


@pytest.mark.rule("SG-RETAIN-1")
async def test_a_revocation_event_wakes_the_purge_job_by_itself(service_factory, gateway):  # type: ignore[no-untyped-def]
    import asyncio

    api = ExchangeApi(
        await service_factory("exchange", retention_grace_seconds=0, purge_interval_seconds=3600), gateway
    )
    await api.birth("sub_a")
    await api.consumer(RP_ID, grants={CIVIL: (["given_name"], [BENEFIT_CHECK])})
    response = await api.consented(CIVIL, ["given_name"], client_id=RP_ID, sub="sub_a", retain=True)
    payload_id = response.json()["stored_payload"]["id"]
    await consent_event(api, "consent.revoked")
    for _ in range(100):  # the job runs in the background once woken; no clock is moved
        (row,) = await table_rows(api.svc, "stored_payloads")
        if row["purged_at"] is not None:
            break
        await asyncio.sleep(0.05)
    assert row["disposition"] == "consent_revoked"
    assert (await read(api, payload_id)).status_code == 410
