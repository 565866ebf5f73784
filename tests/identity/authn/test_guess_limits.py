"""Guess limits that hold: against parallel requests and two app instances on one database, against many client
ids, against a verifier holding the person's offline QR; one-time code send limits; sign-ins bound to their client.

The acceptance test at the end plays the whole attacker with the limits at their defaults.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import httpx

from dpi_sandbox.registry import entry
from services.common.assertion import StaticJwks
from services.common.bus import InProcessBus
from services.identity.config import IdentitySettings
from tests.identity.access_helpers import RELYING_PARTY, Enrolled, authn, call, enrolled, messages, request_otp
from tests.identity.identity_helpers import SUBJECT, IdentityApi, table_rows
from tests.identity.oidc_helpers import authorize_params, register

DEFAULTS = IdentitySettings(_env_file=None)
PIN = "2468"
WRONG = [f"{n:04d}" for n in range(1000, 1100)]
# More client ids than any sandbox registers: the limits may not depend on how many an attacker holds.
ATTACKER_CLIENTS = [f"rp-attacker-{n:02d}" for n in range(40)]


async def with_pin(api: IdentityApi) -> Enrolled:
    person = await enrolled(api)
    response = await call(api, "PUT", "/v1/me/pin", roles=SUBJECT, subject_ref=person.sub, json={"pin": PIN})
    assert response.status_code == 200, response.text
    return person


async def offline_qr(api: IdentityApi, person: Enrolled) -> str:
    issued = await call(api, "POST", "/v1/me/offline-credential", roles=SUBJECT, subject_ref=person.sub)
    assert issued.status_code == 201, issued.text
    return str(issued.json()["qr_payload"])


async def checked_pin_guesses(api: IdentityApi, person: Enrolled) -> int:
    """Wrong PINs the service actually checked (the refusals that checked nothing say so in their reason)."""
    rows = await table_rows(api.svc, "auth_history")
    return sum(1 for r in rows if r["person_id"] == person.person_id and r["reason"] == "pin.mismatch")


@asynccontextmanager
async def second_instance(api: IdentityApi, gateway: Any, clock: Any) -> AsyncIterator[IdentityApi]:
    """Another identity app (a replica) on the same database and keys, with its own connections."""
    app = entry("identity").factory(
        api.svc.settings, clock=clock, bus=InProcessBus(), gateway_jwks=StaticJwks(gateway.jwks)
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(transport=transport, base_url="http://identity-2") as client:
            replica = type(api.svc)(app, client, api.svc.settings, api.svc.bus)
            yield IdentityApi(replica, gateway)


class TestOfflineQrIsNotAPresenceProof:
    async def test_a_verifier_holding_the_qr_cannot_reset_the_pin_count(self, api) -> None:
        person = await with_pin(api)
        qr = await offline_qr(api, person)
        for wrong in WRONG[:4]:
            assert (await authn(api, person, {"type": "pin", "pin": wrong}, client_id="verifier")).status_code == 401
        shown = await authn(api, person, {"type": "offline_qr", "qr_payload": qr}, client_id="verifier")
        assert shown.status_code == 200, "the card still verifies"
        assert (await authn(api, person, {"type": "pin", "pin": WRONG[4]}, client_id="verifier")).status_code == 401
        paused = await authn(api, person, {"type": "pin", "pin": PIN}, client_id="verifier")
        assert paused.json()["code"] == "identity.authn.pin_paused", "the QR success did not count as the person"
        assert await checked_pin_guesses(api, person) == 5

    async def test_a_factor_that_proves_the_person_now_still_ends_the_pause(self, api) -> None:
        person = await with_pin(api)
        for wrong in WRONG[:5]:
            await authn(api, person, {"type": "pin", "pin": wrong})
        code = await request_otp(api, person)
        assert (await authn(api, person, {"type": "otp", "otp": code})).status_code == 200
        assert (await authn(api, person, {"type": "pin", "pin": PIN})).status_code == 200


class TestPersonCeiling:
    async def test_many_client_ids_share_one_ceiling(self, api) -> None:
        person = await with_pin(api)
        answers = []
        for client in ATTACKER_CLIENTS[:12]:
            for wrong in WRONG[:7]:
                answers.append(await authn(api, person, {"type": "pin", "pin": wrong}, client_id=client))
        assert await checked_pin_guesses(api, person) == DEFAULTS.pin_max_failures_per_window
        ceiling = answers[-1]
        assert ceiling.status_code == 429
        assert ceiling.headers["content-type"].startswith("application/problem+json")
        body = ceiling.json()
        assert body["code"] == "identity.authn.pin_ceiling"
        assert 0 < int(ceiling.headers["retry-after"]) <= DEFAULTS.pin_failure_window_seconds
        assert {"otp", "biometric", "assisted"} <= set(body["alternatives"])
        assert "offline_qr" not in body["alternatives"]

    async def test_the_person_is_told_once_and_their_own_way_in_ends_it(self, api) -> None:
        person = await with_pin(api)
        for client, wrong in zip(ATTACKER_CLIENTS, WRONG[:15], strict=False):
            await authn(api, person, {"type": "pin", "pin": wrong}, client_id=client)
        notices = await messages(api, person.sub, kind="guess_ceiling")
        assert len(notices) == 1
        assert f"{DEFAULTS.pin_max_failures_per_window} wrong PINs" in notices[0]["body"]
        # Even the right PIN is not checked now, at any client...
        refused = await authn(api, person, {"type": "pin", "pin": PIN}, client_id="rp-bank")
        assert refused.status_code == 429
        # ...but the person signs in another way, which ends the pause: never locked out.
        code = await request_otp(api, person, client_id="rp-bank")
        assert (await authn(api, person, {"type": "otp", "otp": code}, client_id="rp-bank")).status_code == 200
        assert (await authn(api, person, {"type": "pin", "pin": PIN}, client_id="rp-bank")).status_code == 200

    async def test_the_window_moves_on(self, api, clock) -> None:
        person = await with_pin(api)
        for client, wrong in zip(ATTACKER_CLIENTS, WRONG[:10], strict=False):
            await authn(api, person, {"type": "pin", "pin": wrong}, client_id=client)
        assert (await authn(api, person, {"type": "pin", "pin": PIN}, client_id="rp-bank")).status_code == 429
        clock.advance(timedelta(seconds=DEFAULTS.pin_failure_window_seconds + 1))
        assert (await authn(api, person, {"type": "pin", "pin": PIN}, client_id="rp-bank")).status_code == 200


class TestConcurrency:
    async def test_parallel_wrong_pins_across_two_instances_are_checked_at_most_the_limit(
        self, api, gateway, clock
    ) -> None:
        person = await with_pin(api)
        async with second_instance(api, gateway, clock) as replica:
            guesses = [
                authn(api if n % 2 else replica, person, {"type": "pin", "pin": wrong}, client_id="rp-prying")
                for n, wrong in enumerate(WRONG[:30])
            ]
            answers = await asyncio.gather(*guesses)
        assert all(a.status_code in (401, 429) for a in answers), [a.text for a in answers if a.status_code >= 500]
        assert await checked_pin_guesses(api, person) == DEFAULTS.pin_max_consecutive_failures

    async def test_thirty_parallel_guesses_with_the_real_pin_among_them_stay_within_the_limit(
        self, api, gateway, clock
    ) -> None:
        person = await with_pin(api)
        candidates = [*WRONG[:29], PIN]
        async with second_instance(api, gateway, clock) as replica:
            answers = await asyncio.gather(
                *(
                    authn(api if n % 2 else replica, person, {"type": "pin", "pin": pin}, client_id=f"rp-{n % 3}")
                    for n, pin in enumerate(candidates)
                )
            )
        assert all(a.status_code in (200, 401, 429) for a in answers)
        # In the order they were checked (one at a time, under the person's row lock): the real PIN, if reached at
        # all, was reached within the ceiling. (A success proves the person, so guesses after it count afresh.)
        rows = sorted(
            (r for r in await table_rows(api.svc, "auth_history") if r["person_id"] == person.person_id),
            key=lambda r: r["id"],
        )
        outcomes = [r["result"] if r["result"] == "success" else r["reason"] for r in rows if r["factor"] == "pin"]
        before_success = outcomes[: outcomes.index("success")] if "success" in outcomes else outcomes
        assert before_success.count("pin.mismatch") <= DEFAULTS.pin_max_failures_per_window

    async def test_parallel_code_requests_across_two_instances_send_at_most_the_limit(
        self, api, gateway, clock
    ) -> None:
        person = await enrolled(api)
        body = {"individual": {"type": "vid", "value": person.vid}}
        async with second_instance(api, gateway, clock) as replica:
            answers = await asyncio.gather(
                *(
                    call(
                        api if n % 2 else replica,
                        "POST",
                        "/v1/authn/otp",
                        roles=RELYING_PARTY,
                        client_id=client,
                        json=body,
                    )
                    for n, client in enumerate(ATTACKER_CLIENTS[:30])
                )
            )
        assert sorted({a.status_code for a in answers}) == [202, 429]
        sent = [r for r in await table_rows(api.svc, "otp_challenges") if r["person_id"] == person.person_id]
        assert len(sent) == DEFAULTS.otp_max_sends_per_person
        assert len(await messages(api, person.sub, kind="otp")) == DEFAULTS.otp_max_sends_per_person


class TestOtpSendLimits:
    async def test_one_client_is_limited_per_person_with_retry_after(self, api, clock) -> None:
        person = await enrolled(api)
        for _ in range(DEFAULTS.otp_max_sends_per_client):
            await request_otp(api, person, client_id="rp-chatty")
        body = {"individual": {"type": "vid", "value": person.vid}}
        refused = await call(api, "POST", "/v1/authn/otp", roles=RELYING_PARTY, client_id="rp-chatty", json=body)
        assert refused.status_code == 429
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "identity.authn.otp_send_limit"
        assert refused.json()["limit"] == "client"
        retry_after = int(refused.headers["retry-after"])
        assert 0 < retry_after <= DEFAULTS.otp_send_window_seconds
        # Another client may still send one; and once the window has moved on, so may this one.
        await request_otp(api, person, client_id="rp-bank")
        clock.advance(timedelta(seconds=retry_after))
        await request_otp(api, person, client_id="rp-chatty")

    async def test_all_clients_together_are_limited_per_person(self, api) -> None:
        person = await enrolled(api)
        for client in ATTACKER_CLIENTS[: DEFAULTS.otp_max_sends_per_person]:
            await request_otp(api, person, client_id=client)
        body = {"individual": {"type": "vid", "value": person.vid}}
        refused = await call(api, "POST", "/v1/authn/otp", roles=RELYING_PARTY, client_id="rp-new", json=body)
        assert refused.status_code == 429 and refused.json()["limit"] == "person"
        assert "retry-after" in refused.headers


class TestSignInTransactionsAreBoundToTheirClient:
    async def test_another_client_can_neither_continue_nor_cancel_it(self, api) -> None:
        person = await enrolled(api)
        rp = await register(api)
        params = authorize_params(rp, "v" * 43)
        opened = await call(api, "GET", "/v1/oidc/authorize", roles=SUBJECT, client_id="citizen-app", params=params)
        assert opened.status_code == 200, opened.text
        tid = opened.json()["transaction_id"]
        for path, body in (
            (f"/v1/oidc/transactions/{tid}/otp", {"login_hint": person.vid}),
            (f"/v1/oidc/transactions/{tid}/complete", {"login_hint": person.vid, "pin": PIN}),
            (f"/v1/oidc/transactions/{tid}/cancel", None),
        ):
            response = await call(api, "POST", path, roles=RELYING_PARTY, client_id="rp-other", json=body)
            assert response.status_code == 404, response.text
        mine = await call(api, "POST", f"/v1/oidc/transactions/{tid}/cancel", roles=SUBJECT, client_id="citizen-app")
        assert mine.status_code == 303, mine.text


class TestAcceptance:
    """With the limits at their defaults, an attacker holding every client id, sending in parallel and holding the
    person's offline QR cannot make more than the documented ceilings of guesses per window: PIN
    `pin_max_failures_per_window` (10 per 24 h), OTP `otp_max_sends_per_person` x `otp_max_attempts` (30 per hour)."""

    async def test_the_ceiling_holds_against_the_whole_attack(self, api, gateway, clock) -> None:
        person = await with_pin(api)
        qr = await offline_qr(api, person)
        async with second_instance(api, gateway, clock) as replica:
            instances = (api, replica)

            async def pin_guess(n: int) -> httpx.Response:
                return await authn(
                    instances[n % 2], person, {"type": "pin", "pin": WRONG[n % 100]}, client_id=ATTACKER_CLIENTS[n % 40]
                )

            async def show_qr(n: int) -> httpx.Response:
                return await authn(
                    instances[n % 2], person, {"type": "offline_qr", "qr_payload": qr}, client_id=ATTACKER_CLIENTS[n]
                )

            for round_ in range(3):  # waves of parallel guesses, the QR shown between them
                await asyncio.gather(*(pin_guess(round_ * 40 + n) for n in range(40)))
                await asyncio.gather(*(show_qr(n) for n in range(5)))
            assert await checked_pin_guesses(api, person) == DEFAULTS.pin_max_failures_per_window

            async def otp_round(client: str, n: int) -> None:
                body = {"individual": {"type": "vid", "value": person.vid}}
                await call(instances[n % 2], "POST", "/v1/authn/otp", roles=RELYING_PARTY, client_id=client, json=body)
                for guess in range(DEFAULTS.otp_max_attempts + 2):
                    await authn(
                        instances[n % 2], person, {"type": "otp", "otp": f"{n:03d}{guess:03d}"}, client_id=client
                    )

            await asyncio.gather(*(otp_round(client, n) for n, client in enumerate(ATTACKER_CLIENTS)))
        challenges = [r for r in await table_rows(api.svc, "otp_challenges") if r["person_id"] == person.person_id]
        otp_guesses = sum(r["attempts"] for r in challenges)
        assert len(challenges) <= DEFAULTS.otp_max_sends_per_person
        assert otp_guesses <= DEFAULTS.otp_max_sends_per_person * DEFAULTS.otp_max_attempts
