"""Authentication factors: OTP, PIN, simulated biometric, offline QR and assisted; who may name whom."""

from __future__ import annotations

import hashlib

import pytest

from tests.identity.access_helpers import (
    OPERATOR,
    RELYING_PARTY,
    TEMPLATE,
    authn,
    call,
    enrolled,
    latest_otp,
    request_otp,
)
from tests.identity.identity_helpers import REGISTRAR, SUBJECT, table_rows


class TestOtp:
    async def test_a_code_authenticates_once(self, api) -> None:
        person = await enrolled(api)
        code = await request_otp(api, person)

        response = await authn(api, person, {"type": "otp", "otp": code})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["authenticated"] is True
        assert body["factor"] == "otp"
        assert body["subject_token"].startswith("tok_")
        assert body["transaction_id"].startswith("ahe_")

        again = await authn(api, person, {"type": "otp", "otp": code})
        assert again.status_code == 401
        assert again.headers["content-type"] == "application/problem+json"
        assert again.json()["authenticated"] is False
        assert again.json()["reason"] == "otp.none_active"

    async def test_the_code_is_stored_only_as_a_keyed_hash(self, api) -> None:
        person = await enrolled(api)
        code = await request_otp(api, person)
        rows = await table_rows(api.svc, "otp_challenges")
        assert len(rows) == 1
        stored = " ".join(str(value) for value in rows[0].values())
        assert code not in stored
        assert hashlib.sha256(code.encode()).hexdigest() not in stored
        messages = await table_rows(api.svc, "notification_outbox")
        assert messages and all(code.encode() not in row["ciphertext"] for row in messages)

    async def test_wrong_guesses_void_the_code_but_never_the_person(self, api) -> None:
        person = await enrolled(api)
        code = await request_otp(api, person)
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"

        first = await authn(api, person, {"type": "otp", "otp": wrong})
        assert first.status_code == 401
        assert first.json()["reason"] == "otp.mismatch"
        assert first.json()["attempts_remaining"] == 2
        await authn(api, person, {"type": "otp", "otp": wrong})
        third = await authn(api, person, {"type": "otp", "otp": wrong})
        assert third.json()["reason"] == "otp.exhausted"
        assert (await authn(api, person, {"type": "otp", "otp": code})).json()["reason"] == "otp.none_active"

        fresh = await request_otp(api, person)
        assert (await authn(api, person, {"type": "otp", "otp": fresh})).status_code == 200

    async def test_a_code_expires_by_the_service_clock(self, api, clock) -> None:
        person = await enrolled(api)
        code = await request_otp(api, person)
        clock.advance(seconds=301)
        response = await authn(api, person, {"type": "otp", "otp": code})
        assert response.status_code == 401
        assert response.json()["reason"] == "otp.expired"

    async def test_a_code_works_only_for_the_client_that_asked_for_it(self, api) -> None:
        person = await enrolled(api)
        code = await request_otp(api, person, client_id="rp-bank")
        response = await authn(api, person, {"type": "otp", "otp": code}, client_id="rp-clinic")
        assert response.status_code == 401
        assert response.json()["reason"] == "otp.none_active"
        assert (await authn(api, person, {"type": "otp", "otp": code}, client_id="rp-bank")).status_code == 200

    async def test_a_new_code_supersedes_the_previous_one(self, api) -> None:
        person = await enrolled(api)
        old = await request_otp(api, person)
        new = await request_otp(api, person)
        if old != new:
            assert (await authn(api, person, {"type": "otp", "otp": old})).status_code == 401
        assert (await authn(api, person, {"type": "otp", "otp": new})).status_code == 200

    async def test_the_response_names_a_masked_destination(self, api) -> None:
        person = await enrolled(api)
        body = {"individual": {"type": "vid", "value": person.vid}}
        response = await call(api, "POST", "/v1/authn/otp", roles=RELYING_PARTY, json=body)
        assert response.status_code == 202
        sent = response.json()
        assert sent["channel"] == "sms"
        assert sent["destination"].startswith("*") and "555" not in sent["destination"]
        assert sent["max_attempts"] == 3

    async def test_no_phone_or_email_answers_with_alternatives(self, api) -> None:
        person = await enrolled(api, phone=None, email=None)
        body = {"individual": {"type": "vid", "value": person.vid}}
        response = await call(api, "POST", "/v1/authn/otp", roles=RELYING_PARTY, json=body)
        assert response.status_code == 409
        assert response.json()["code"] == "identity.authn.no_otp_channel"
        assert "pin" in response.json()["alternatives"]


class TestWhoIsAuthenticated:
    async def test_a_registrar_may_name_the_person_by_uin(self, api) -> None:
        person = await enrolled(api)
        individual = {"type": "uin", "value": person.uin}
        sent = await call(api, "POST", "/v1/authn/otp", roles=REGISTRAR, json={"individual": individual})
        assert sent.status_code == 202, sent.text
        code = await latest_otp(api, person.sub)
        body = {"individual": individual, "factor": {"type": "otp", "otp": code}}
        response = await call(api, "POST", "/v1/authn", roles=REGISTRAR, json=body)
        assert response.status_code == 200, response.text
        assert response.json()["subject_token"] is None  # tokens are for relying parties

    @pytest.mark.rule("SG-TOKEN-1")
    @pytest.mark.parametrize("roles", [RELYING_PARTY, ("assisted_operator",)])
    async def test_nobody_but_a_registrar_may_name_a_person_by_uin(self, api, roles) -> None:
        person = await enrolled(api)
        individual = {"type": "uin", "value": person.uin}
        sent = await call(api, "POST", "/v1/authn/otp", roles=roles, json={"individual": individual})
        assert sent.status_code == 403, sent.text
        assert sent.json()["rule_id"] == "SG-TOKEN-1"

    async def test_the_subject_authenticates_as_themselves(self, api) -> None:
        person = await enrolled(api)
        sent = await call(api, "POST", "/v1/authn/otp", roles=SUBJECT, subject_ref=person.sub, json={})
        assert sent.status_code == 202, sent.text
        code = await latest_otp(api, person.sub)
        body = {"factor": {"type": "otp", "otp": code}}
        response = await call(api, "POST", "/v1/authn", roles=SUBJECT, subject_ref=person.sub, json=body)
        assert response.status_code == 200, response.text

    async def test_a_subject_may_not_name_someone_else(self, api) -> None:
        person, other = await enrolled(api), await enrolled(api)
        body = {"individual": {"type": "vid", "value": other.vid}}
        response = await call(api, "POST", "/v1/authn/otp", roles=SUBJECT, subject_ref=person.sub, json=body)
        assert response.status_code == 403
        assert response.json()["rule_id"] == "SG-SEC-1"

    async def test_someone_must_be_named(self, api) -> None:
        response = await call(api, "POST", "/v1/authn/otp", roles=RELYING_PARTY, json={})
        assert response.status_code == 422
        assert response.json()["code"] == "identity.authn.individual_required"

    async def test_the_body_must_agree_with_the_resolved_subject(self, api) -> None:
        person, other = await enrolled(api), await enrolled(api)
        body = {"individual": {"type": "vid", "value": other.vid}}
        response = await call(api, "POST", "/v1/authn/otp", roles=RELYING_PARTY, subject_ref=person.sub, json=body)
        assert response.status_code == 422
        assert response.json()["code"] == "identity.authn.individual_mismatch"

    async def test_a_revoked_vid_authenticates_no_one(self, api) -> None:
        person = await enrolled(api)
        vids = (await api.as_subject(person.sub, "GET", "/v1/me/vids")).json()
        await api.as_subject(person.sub, "DELETE", f"/v1/me/vids/{vids[0]['id']}")
        response = await authn(api, person, {"type": "pin", "pin": "2468"})
        assert response.status_code == 401
        assert response.json()["code"] == "identity.vid_revoked"

    async def test_a_malformed_vid_is_invalid_input(self, api) -> None:
        body = {"individual": {"type": "vid", "value": "1234"}, "factor": {"type": "pin", "pin": "2468"}}
        response = await call(api, "POST", "/v1/authn", roles=RELYING_PARTY, json=body)
        assert response.status_code == 422

    async def test_roles_without_authentication_business_are_refused(self, api) -> None:
        person = await enrolled(api)
        response = await authn(api, person, {"type": "pin", "pin": "2468"}, roles=("auditor",))
        assert response.status_code == 403
        assert response.json()["rule_id"] == "SG-SEC-1"


class TestPin:
    async def set_pin(self, api, person, body):
        return await call(api, "PUT", "/v1/me/pin", roles=SUBJECT, subject_ref=person.sub, json=body)

    async def test_set_verify_and_change(self, api) -> None:
        person = await enrolled(api)
        assert (await authn(api, person, {"type": "pin", "pin": "2468"})).json()["reason"] == "pin.not_set"
        response = await self.set_pin(api, person, {"pin": "2468"})
        assert response.status_code == 200, response.text
        assert response.json()["pin_set"] is True

        assert (await authn(api, person, {"type": "pin", "pin": "2468"})).status_code == 200
        wrong = await authn(api, person, {"type": "pin", "pin": "1357"})
        assert wrong.status_code == 401 and wrong.json()["reason"] == "pin.mismatch"

        no_proof = await self.set_pin(api, person, {"pin": "9753"})
        assert no_proof.status_code == 401
        assert no_proof.json()["code"] == "identity.authn.pin_proof_required"
        bad_proof = await self.set_pin(api, person, {"pin": "9753", "current_pin": "0000"})
        assert bad_proof.status_code == 401
        changed = await self.set_pin(api, person, {"pin": "9753", "current_pin": "2468"})
        assert changed.status_code == 200, changed.text
        assert (await authn(api, person, {"type": "pin", "pin": "2468"})).status_code == 401
        assert (await authn(api, person, {"type": "pin", "pin": "9753"})).status_code == 200

    async def test_a_forgotten_pin_is_reset_with_an_otp(self, api) -> None:
        person = await enrolled(api)
        await self.set_pin(api, person, {"pin": "2468"})
        sent = await call(api, "POST", "/v1/authn/otp", roles=SUBJECT, subject_ref=person.sub, json={})
        assert sent.status_code == 202
        code = await latest_otp(api, person.sub)
        response = await self.set_pin(api, person, {"pin": "8642", "otp": code})
        assert response.status_code == 200, response.text
        assert (await authn(api, person, {"type": "pin", "pin": "8642"})).status_code == 200

    async def test_the_pin_is_stored_as_argon2id_of_a_keyed_hash(self, api) -> None:
        person = await enrolled(api)
        await self.set_pin(api, person, {"pin": "246813"})
        [row] = await table_rows(api.svc, "pin_credentials")
        assert row["pin_hash"].startswith("$argon2id$")
        assert "246813" not in row["pin_hash"]

    async def test_repeated_failures_pause_the_pin_until_another_factor_succeeds(self, api) -> None:
        person = await enrolled(api)
        await self.set_pin(api, person, {"pin": "2468"})
        for _ in range(5):
            assert (await authn(api, person, {"type": "pin", "pin": "1111"})).status_code == 401
        paused = await authn(api, person, {"type": "pin", "pin": "2468"})
        assert paused.status_code == 401
        assert paused.json()["code"] == "identity.authn.pin_paused"
        assert "otp" in paused.json()["alternatives"]

        code = await request_otp(api, person)
        assert (await authn(api, person, {"type": "otp", "otp": code})).status_code == 200
        assert (await authn(api, person, {"type": "pin", "pin": "2468"})).status_code == 200

    async def test_wrong_pins_sent_by_one_client_pause_the_pin_only_there(self, api) -> None:
        """A relying party that names the person and guesses cannot shut their PIN off at every other service."""
        person = await enrolled(api)
        await self.set_pin(api, person, {"pin": "2468"})
        for _ in range(5):
            assert (await authn(api, person, {"type": "pin", "pin": "1111"}, client_id="rp-prying")).status_code == 401
        paused = await authn(api, person, {"type": "pin", "pin": "2468"}, client_id="rp-prying")
        assert paused.json()["code"] == "identity.authn.pin_paused"

        elsewhere = await authn(api, person, {"type": "pin", "pin": "2468"}, client_id="rp-bank")
        assert elsewhere.status_code == 200, elsewhere.text
        # That success, like any, ends the run of failures everywhere: the paused client gets its tries back.
        assert (await authn(api, person, {"type": "pin", "pin": "2468"}, client_id="rp-prying")).status_code == 200


class TestBiometric:
    @pytest.mark.rule("SG-INCL-2")
    async def test_three_failures_offer_alternatives_and_otp_succeeds_right_after(self, api) -> None:
        person = await enrolled(api, biometric_template=TEMPLATE, consents={"biometric": True, "notices": True})
        for attempt in (1, 2, 3):
            response = await authn(api, person, {"type": "biometric", "template": "synthetic-template:smudged"})
            assert response.status_code == 401
            body = response.json()
            assert body["authenticated"] is False
            assert body["consecutive_failures"] == attempt
        assert body["code"] == "identity.authn.biometric_use_alternative"
        assert body["rule_id"] == "SG-INCL-2"
        assert body["alternatives"] == ["otp", "pin", "offline_qr", "assisted"]
        assert body["locked"] is False

        code = await request_otp(api, person)
        right_after = await authn(api, person, {"type": "otp", "otp": code})
        assert right_after.status_code == 200, right_after.text
        assert right_after.json()["authenticated"] is True

    @pytest.mark.rule("SG-INCL-2")
    async def test_no_lock_out_state_exists(self, api) -> None:
        person = await enrolled(api, biometric_template=TEMPLATE, consents={"biometric": True, "notices": False})
        for _ in range(6):
            response = await authn(api, person, {"type": "biometric", "template": "synthetic-template:smudged"})
            assert response.status_code == 401  # never 403 or 423: no lock
        assert (await authn(api, person, {"type": "biometric", "template": TEMPLATE})).status_code == 200
        assert (await api.person(person.person_id))["status"] == "active"
        [row] = [r for r in await table_rows(api.svc, "persons") if r["id"] == person.person_id]
        # The only lock there is, is the person's own choice of factors to lock (PUT /v1/me/auth-factors/...):
        # failures set none, and no failure count is stored.
        assert row["locked_factors"] is None
        assert not {c for c in row if "fail" in c or ("lock" in c and c != "locked_factors")}

    @pytest.mark.rule("SG-INCL-2")
    async def test_without_an_enrolled_biometric_the_alternatives_come_at_once(self, api) -> None:
        person = await enrolled(api, biometric_template=TEMPLATE, consents={"biometric": False, "notices": False})
        response = await authn(api, person, {"type": "biometric", "template": TEMPLATE})
        assert response.status_code == 401
        assert response.json()["reason"] == "biometric.not_enrolled"
        assert response.json()["alternatives"] == ["otp", "pin", "offline_qr", "assisted"]


class TestOfflineQr:
    async def test_the_holders_credential_authenticates_them_only(self, api) -> None:
        person, other = await enrolled(api), await enrolled(api)
        issued = await call(api, "POST", "/v1/me/offline-credential", roles=SUBJECT, subject_ref=person.sub)
        assert issued.status_code == 201, issued.text
        payload = issued.json()["qr_payload"]

        assert (await authn(api, person, {"type": "offline_qr", "qr_payload": payload})).status_code == 200
        theirs = await authn(api, other, {"type": "offline_qr", "qr_payload": payload})
        assert theirs.status_code == 401 and theirs.json()["reason"] == "offline_qr.other_person"
        tampered = payload[:-3] + ("AAA" if payload[-3:] != "AAA" else "BBB")
        forged = await authn(api, person, {"type": "offline_qr", "qr_payload": tampered})
        assert forged.status_code == 401 and forged.json()["reason"] == "offline_qr.invalid"


class TestAssisted:
    @pytest.mark.rule("SG-INCL-3")
    async def test_without_the_subjects_confirmation_it_is_denied(self, api) -> None:
        person = await enrolled(api)
        response = await authn(
            api, person, {"type": "assisted"}, roles=OPERATOR, client_id="field-console", assisted_by="op-17",
            channel="assisted",
        )  # fmt: skip
        assert response.status_code == 403
        assert response.json()["rule_id"] == "SG-INCL-3"

    @pytest.mark.rule("SG-INCL-3")
    async def test_without_a_named_operator_it_is_denied(self, api) -> None:
        person = await enrolled(api)
        factor = {"type": "assisted", "confirmation": {"type": "pin", "pin": "2468"}}
        as_operator = await authn(api, person, factor, roles=OPERATOR, client_id="field-console", channel="assisted")
        assert as_operator.status_code == 403 and as_operator.json()["rule_id"] == "SG-INCL-3"
        as_party = await authn(api, person, factor, assisted_by="op-17")
        assert as_party.status_code == 403 and as_party.json()["rule_id"] == "SG-INCL-3"

    @pytest.mark.rule("SG-INCL-3")
    async def test_with_the_subjects_otp_it_succeeds_and_records_the_operator(self, api) -> None:
        person = await enrolled(api)
        context = {"client_id": "field-console", "assisted_by": "op-17", "channel": "assisted"}
        code = await request_otp(api, person, client_id="field-console", roles=OPERATOR)
        factor = {"type": "assisted", "confirmation": {"type": "otp", "otp": code}}
        response = await authn(api, person, factor, roles=OPERATOR, **context)
        assert response.status_code == 200, response.text
        assert response.json()["factor"] == "assisted"

        history = await call(api, "GET", "/v1/me/auth-history", roles=SUBJECT, subject_ref=person.sub)
        [entry] = history.json()["items"]
        assert entry["assisted_by"] == "op-17"
        assert entry["channel"] == "assisted"
        assert entry["factor"] == "assisted"
        assert entry["relying_party"] == "field-console"

    async def test_a_wrong_confirmation_fails_authentication(self, api) -> None:
        person = await enrolled(api)
        factor = {"type": "assisted", "confirmation": {"type": "pin", "pin": "2468"}}
        response = await authn(
            api, person, factor, roles=OPERATOR, client_id="field-console", assisted_by="op-17", channel="assisted"
        )
        assert response.status_code == 401
        assert response.json()["reason"] == "assisted.pin.not_set"
