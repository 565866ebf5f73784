"""The rule engine, through the gateway over HTTP: each rule it enforces denies with its id, framework references,
grievance route and audit event, before the provider is called (its call count stays at zero)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.gateway.conftest import Edge
from tests.gateway.edge import as_caller

PURPOSE = "KYC_ACCOUNT_OPENING"
KYC = ("POST", "/v1/kyc")


def assert_denial(response, rule_id: str, status: int = 403) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["rule_id"] == rule_id
    assert body["type"].endswith(f"/rules/{rule_id}")
    assert body["framework_refs"], "a denial names the frameworks behind its rule"
    assert body["grievance"]["href"], "a denial says where to complain"
    assert body["audit_event_id"].startswith("evt_")
    return body  # type: ignore[no-any-return]


async def _kyc(edge: Edge, person, *, caller: str = "bank", otp: str | None = None, **headers: str):  # type: ignore[no-untyped-def]
    factor = {"type": "otp", "otp": otp or "000000"}
    body = {"individual": {"type": "vid", "value": person.vid}, "factor": factor}
    return await edge.client.post("/identity/v1/kyc", json=body, headers=as_caller(caller, **headers))


class TestDenyByDefault:
    @pytest.mark.rule("SG-SEC-1")
    async def test_an_undeclared_operation_is_refused_and_never_reaches_the_service(self, edge: Edge) -> None:
        # identity's gateway-only resolution endpoint exists, but no caller may reach it through the gateway
        response = await edge.client.post(
            "/identity/v1/subjects/resolve", json={"type": "vid", "value": "1"}, headers=as_caller("bank")
        )
        body = assert_denial(response, "SG-SEC-1")
        assert edge.upstream["identity"].count("POST", "/v1/subjects/resolve") == 0
        event = await edge.audit_event(body["audit_event_id"])
        assert event["decision"] == "deny"
        assert event["rule_ids"] == ["SG-SEC-1"]
        assert event["action"] == "POST /identity/(undeclared)", "no raw path (it could hold a reference) is logged"

    @pytest.mark.rule("SG-SEC-1")
    async def test_no_caller_is_401_before_anything_else(self, edge: Edge) -> None:
        response = await edge.client.get("/identity/v1/persons/p1")
        assert response.status_code == 401
        assert response.headers["content-type"] == "application/problem+json"
        assert sum(edge.upstream["identity"].calls.values()) == 0

    @pytest.mark.rule("SG-SEC-1")
    async def test_a_role_the_route_does_not_admit_is_refused(self, edge: Edge) -> None:
        response = await edge.client.get("/identity/v1/persons/per_1", headers=as_caller("bank"))
        body = assert_denial(response, "SG-SEC-1")
        assert "registrar" in body["detail"]
        assert edge.upstream["identity"].count("GET", "/v1/persons/per_1") == 0

    async def test_a_declared_path_with_another_method_is_405_with_allow(self, edge: Edge) -> None:
        response = await edge.client.delete("/identity/v1/me/pin", headers=as_caller("citizen:sub_x"))
        assert response.status_code == 405
        assert response.headers["allow"] == "PUT"

    async def test_public_operations_need_no_caller(self, edge: Edge) -> None:
        assert (await edge.client.get("/identity/healthz")).status_code == 200
        assert (await edge.client.get("/identity/.well-known/openid-configuration")).status_code == 200


class TestOversight:
    @pytest.mark.rule("SG-OVERSIGHT-1")
    async def test_an_auditor_cannot_change_anything(self, edge: Edge) -> None:
        response = await edge.client.post(
            "/identity/v1/corrections/escalate-overdue", json={}, headers=as_caller("auditor")
        )
        assert_denial(response, "SG-OVERSIGHT-1")
        assert edge.upstream["identity"].count("POST", "/v1/corrections/escalate-overdue") == 0


class TestAssistedChannel:
    @pytest.mark.rule("SG-INCL-3")
    async def test_the_assisted_channel_names_the_operator(self, edge: Edge) -> None:
        person = await edge.person()
        body = {"individual": {"type": "vid", "value": person.vid}}
        response = await edge.client.post(
            "/identity/v1/authn/otp", json=body, headers=as_caller("operator", **{"X-Channel": "assisted"})
        )
        assert_denial(response, "SG-INCL-3")
        assert edge.upstream["identity"].count("POST", "/v1/authn/otp") == 0
        response = await edge.client.post(
            "/identity/v1/authn/otp",
            json=body,
            headers=as_caller("operator", **{"X-Channel": "assisted", "X-Assisted-By": "op-17"}),
        )
        assert response.status_code == 202, response.text
        events = await edge.audit_events()
        assert events[-1]["decision"] == "permit"
        assert events[-1]["channel"] == "assisted"
        assert events[-1]["assisted_by"] == "op-17"


class TestPurpose:
    @pytest.mark.rule("SG-PURPOSE-1")
    async def test_a_route_that_releases_data_needs_a_purpose(self, edge: Edge) -> None:
        person = await edge.person()
        assert_denial(await _kyc(edge, person), "SG-PURPOSE-1")
        assert edge.upstream["identity"].count(*KYC) == 0

    @pytest.mark.rule("SG-PURPOSE-1")
    async def test_an_unregistered_purpose_is_refused(self, edge: Edge) -> None:
        person = await edge.person()
        assert_denial(await _kyc(edge, person, **{"X-Purpose": "NOT_A_PURPOSE"}), "SG-PURPOSE-1")
        assert edge.upstream["identity"].count(*KYC) == 0

    @pytest.mark.rule("SG-PURPOSE-1")
    async def test_a_suspended_purpose_is_refused(self, edge: Edge) -> None:
        await edge.consent.purpose("BENEFIT_ELIGIBILITY", ["full_name"], status="suspended")
        person = await edge.person()
        response = await _kyc(edge, person, caller="agency", **{"X-Purpose": "BENEFIT_ELIGIBILITY"})
        assert "suspended" in assert_denial(response, "SG-PURPOSE-1")["detail"]
        assert edge.upstream["identity"].count(*KYC) == 0

    @pytest.mark.rule("SG-PURPOSE-1")
    async def test_a_client_not_approved_for_the_purpose_is_refused(self, edge: Edge) -> None:
        person = await edge.person()
        response = await _kyc(edge, person, caller="clinic", **{"X-Purpose": PURPOSE})
        assert "not approved" in assert_denial(response, "SG-PURPOSE-1")["detail"]
        assert edge.upstream["identity"].count(*KYC) == 0


class TestConsent:
    @pytest.mark.rule("SG-CONSENT-1")
    async def test_no_consent_no_release(self, edge: Edge) -> None:
        person = await edge.person()
        body = assert_denial(await _kyc(edge, person, **{"X-Purpose": PURPOSE}), "SG-CONSENT-1")
        assert edge.upstream["identity"].count(*KYC) == 0
        # the gateway asked consent about the person's sub, never about what the bank presented
        assert edge.consent.asked[-1]["subject"] == person.sub
        assert edge.consent.asked[-1]["requester"] == "rp-bank"
        event = await edge.audit_event(body["audit_event_id"])
        assert (event["decision"], event["sub"], event["purpose"]) == ("deny", person.sub, PURPOSE)

    @pytest.mark.rule("SG-CONSENT-1")
    async def test_a_consent_for_another_requester_does_not_count(self, edge: Edge) -> None:
        person = await edge.person()
        await edge.consent.grant("rp-agency", person.sub, PURPOSE, ["full_name"])
        assert_denial(await _kyc(edge, person, **{"X-Purpose": PURPOSE}), "SG-CONSENT-1")
        assert edge.upstream["identity"].count(*KYC) == 0

    @pytest.mark.rule("SG-CONSENT-1")
    async def test_a_stated_consent_id_must_be_the_one_that_covers_the_use(self, edge: Edge) -> None:
        person = await edge.person()
        await edge.consent.grant("rp-bank", person.sub, PURPOSE, ["full_name"])
        response = await _kyc(edge, person, **{"X-Purpose": PURPOSE, "X-Consent-Id": "cns_someone_else"})
        assert_denial(response, "SG-CONSENT-1")
        assert edge.upstream["identity"].count(*KYC) == 0

    @pytest.mark.rule("SG-CONSENT-4")
    async def test_a_revoked_consent_is_refused_at_once(self, edge: Edge) -> None:
        person = await edge.person()
        consent_id = await edge.consent.grant("rp-bank", person.sub, PURPOSE, ["full_name"])
        otp = await edge.otp(person)
        assert (await _kyc(edge, person, otp=otp, **{"X-Purpose": PURPOSE})).status_code == 200
        await edge.consent.revoke(consent_id)
        assert_denial(await _kyc(edge, person, **{"X-Purpose": PURPOSE}), "SG-CONSENT-4")
        assert edge.upstream["identity"].count(*KYC) == 1

    @pytest.mark.rule("SG-CONSENT-5")
    async def test_an_expired_consent_is_refused(self, edge: Edge) -> None:
        person = await edge.person()
        await edge.consent.grant("rp-bank", person.sub, PURPOSE, ["full_name"], days=1)
        edge.consent.api.clock.advance(timedelta(days=2))
        assert_denial(await _kyc(edge, person, **{"X-Purpose": PURPOSE}), "SG-CONSENT-5")
        assert edge.upstream["identity"].count(*KYC) == 0


class TestPermit:
    @pytest.mark.rule("SG-MIN-1")
    async def test_a_permitted_release_carries_the_decision_and_only_what_is_allowed(self, edge: Edge) -> None:
        person = await edge.person()
        consent_id = await edge.consent.grant("rp-bank", person.sub, PURPOSE, ["full_name", "phone"])
        otp = await edge.otp(person)
        response = await _kyc(edge, person, otp=otp, **{"X-Purpose": PURPOSE})
        assert response.status_code == 200, response.text
        body = response.json()
        # consent covers full_name and phone; identity's KYC policy allows full_name only of those:
        # consented ∩ purpose-allowed ∩ provider policy
        assert set(body["attributes"]) == {"full_name"}
        assert body["consent_id"] == consent_id
        assert body["subject_token"].startswith("tok_")
        assert "sub_" not in response.text, "the internal subject reference never reaches a relying party"
        # consent is asked only for what the route can release and the purpose allows, in the route's order
        assert edge.consent.asked[-1]["items"] == ["full_name", "date_of_birth", "address", "phone"]
        event = (await edge.audit_events())[-1]
        assert event["decision"] == "permit"
        assert event["sub"] == person.sub
        assert event["consent_id"] == consent_id
        assert event["legal_basis"] == "consent"
        assert event["fields_returned"] == ["full_name"]
        assert "SG-CONSENT-1" in event["rule_ids"]
        assert event["status"] == 200

    @pytest.mark.rule("SG-SEC-1")
    async def test_the_assertion_names_the_decision_recorded_in_the_audit_log(self, edge: Edge) -> None:
        response = await edge.client.get("/identity/v1/caller", headers=as_caller("registrar"))
        assert response.status_code == 200, response.text
        decision_id = response.json()["decision_id"]
        event = await edge.audit_event(decision_id)
        assert (event["decision"], event["actor"], event["action"]) == (
            "permit",
            "reg-office",
            "GET /identity/v1/caller",
        )


class TestLegalBasis:
    @pytest.mark.rule("SG-LAWFUL-1")
    async def test_a_court_order_where_the_route_takes_none_is_refused(self, edge: Edge) -> None:
        person = await edge.person()
        headers = {"X-Purpose": PURPOSE, "X-Legal-Basis": "court_order", "X-Court-Order": "co-1"}
        assert_denial(await _kyc(edge, person, **headers), "SG-LAWFUL-1")
        assert edge.upstream["identity"].count(*KYC) == 0

    @pytest.mark.rule("SG-LAWFUL-1")
    async def test_a_court_order_reference_needs_the_court_order_basis(self, edge: Edge) -> None:
        person = await edge.person()
        assert_denial(await _kyc(edge, person, **{"X-Purpose": PURPOSE, "X-Court-Order": "co-1"}), "SG-LAWFUL-1")
        assert edge.upstream["identity"].count(*KYC) == 0

    @pytest.mark.rule("SG-LAWFUL-1")
    async def test_a_statute_basis_needs_a_statute_that_names_the_client(self, edge: Edge) -> None:
        person = await edge.person()
        headers = {"X-Purpose": PURPOSE, "X-Legal-Basis": "statute"}
        assert "No statute" in assert_denial(await _kyc(edge, person, **headers), "SG-LAWFUL-1")["detail"]
        others = {"reference": "Banking Act s. 9", "requesters": ["rp-other"]}
        await edge.consent.purpose("AML_SCREENING", ["full_name"], statutes=[others])
        edge.app.state.proxy.facts.forget_purposes()
        headers = {"X-Purpose": "AML_SCREENING", "X-Legal-Basis": "statute"}
        assert_denial(await _kyc(edge, person, caller="agency", **headers), "SG-LAWFUL-1")
        assert edge.upstream["identity"].count(*KYC) == 0
        ours = {"reference": "Banking Act s. 9", "requesters": ["rp-agency"]}
        await edge.consent.purpose("SANCTIONS_CHECK", ["full_name"], statutes=[ours])
        question = {
            "method": "POST", "path": "/identity/v1/kyc", "purpose": "SANCTIONS_CHECK", "legal_basis": "statute",
            "body": {"individual": {"type": "vid", "value": person.vid}},
        }  # fmt: skip
        answer = (await edge.client.post("/governance/decide", json=question, headers=as_caller("agency"))).json()
        assert answer["allowed"] is True, answer
        assert edge.consent.asked == [], "a statute basis asks no consent"
