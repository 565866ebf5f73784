"""ConsentClient against the real app: every method the gateway uses, over HTTP, with typed answers."""

from __future__ import annotations

import httpx
import pytest

from services.common.http import RemoteProblem
from services.consent.client import ConsentClient, ConsentRequestCreate, ConsentStatus, DecisionRequest, Language


@pytest.fixture
def client(consent_svc) -> ConsentClient:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=consent_svc.app)
    return ConsentClient(httpx.AsyncClient(transport=transport, base_url="http://consent"))


async def test_the_gateways_calls_round_trip(api, client, gateway):
    await api.purpose("CASH")

    def as_gateway() -> str:
        return gateway.assertion("consent", client_id="dpi-gateway", roles=("gateway",))

    def as_amara() -> str:
        return gateway.assertion("consent", client_id="citizen-app", roles=("subject",), subject_ref="sub_amara")

    registry = await client.purposes(assertion=as_gateway(), language=Language.fr)
    assert [p.code for p in registry.items] == ["CASH"]
    assert (await client.purpose("CASH", assertion=as_gateway())).status == "active"

    asked = await client.request_consent(
        ConsentRequestCreate.model_validate(api.artefact("CASH")),
        assertion=gateway.assertion("consent", client_id="rp-social-agency", roles=("relying_party",)),
        idempotency_key="client-test-1",
    )
    assert asked.status is ConsentStatus.requested
    assert (await client.grant(asked.id, assertion=as_amara())).status is ConsentStatus.granted
    question = DecisionRequest(requester="rp-social-agency", subject="sub_amara", purpose="CASH",
                               items=["household_income_band"])  # fmt: skip
    assert (await client.decide(question, assertion=as_gateway())).decision == "permit"
    assert (await client.revoke(asked.id, assertion=as_amara())).status is ConsentStatus.revoked
    denied = await client.decide(question, assertion=as_gateway())
    assert (denied.decision, denied.rule_id) == ("deny", "SG-CONSENT-4")

    other = await client.request_consent(
        ConsentRequestCreate.model_validate(api.artefact("CASH")),
        assertion=gateway.assertion("consent", client_id="rp-social-agency", roles=("relying_party",)),
    )
    assert (await client.deny(other.id, assertion=as_amara())).status is ConsentStatus.denied
    mine = await client.my_consents(assertion=as_amara(), status=ConsentStatus.revoked)
    assert [c.id for c in mine.items] == [asked.id]
    assert (await client.my_consent(asked.id, assertion=as_amara())).version == 3
    receipts = await client.my_receipts(assertion=as_amara(), consent_id=asked.id)
    assert len(receipts.items) == 3
    assert (await client.my_receipt(receipts.items[0].id, assertion=as_amara())).jws == receipts.items[0].jws

    with pytest.raises(RemoteProblem) as refused:
        await client.grant(asked.id, assertion=as_amara())
    assert refused.value.status == 409
