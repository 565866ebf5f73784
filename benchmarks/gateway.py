"""The gateway's cost: a permitted, consent-gated request through the gateway against the same request sent straight
to the service with an assertion, in the same run, in the embedded and the multi-process modes.

The request is identity's eKYC (`POST /v1/kyc`, simulated biometric factor), the sandbox's consent-gated release
that runs end to end today. Through the gateway it is authenticated, its rules evaluated (SG-SEC-1, SG-INCL-3,
SG-TOKEN-1 resolving the VID through identity, SG-PURPOSE-1 reading the purpose registry, SG-LAWFUL-1, SG-CONSENT-1
asking the consent service for a decision), an assertion minted, forwarded, the answer scanned for a UIN, minimised,
its person references rewritten into the bank's pairwise token, and the decision appended to the audit log. Direct,
the same body goes to identity with an assertion (sub, purpose, consent, consented items) minted before the clock
starts, as the gateway would have sent it.

Also timed: two denials (a role the route does not admit, SG-SEC-1; a person with no consent, SG-CONSENT-1) and a
protected no-op (`GET /v1/caller`) through the gateway and direct. At the end, one request at a time, where the
gateway's CPU per permitted request goes, stage by stage, read from the gateway process itself.

Modes: embedded (one uvicorn process: the gateway with the services in-process) and multi-process (gateway,
identity and consent in three uvicorn processes talking HTTP). Callers authenticate as deployed: each is a client
registered and approved in the gateway's registry, and sends `Authorization: Bearer` with an access token it got
from the gateway's token endpoint (private_key_jwt) before the row starts, as a relying party reuses its token; the
gateway verifies the token (ES256), reads the client's registration (cached, as deployed) and counts its rate limit
(set high enough not to refuse the load) on every request. Issuing tokens is measured in benchmarks/gateway_token.py.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from fastapi import FastAPI, Request

from benchmarks._common import Result, arguments, report
from benchmarks._http import Load, drive, http_request, json_request, serve
from gateway.auth.caller import AuthenticatedCaller
from gateway.auth.clients.models import ClientKind
from gateway.auth.clients.provision import client_key
from gateway.auth.clients.schemas import ClientCreate, Jwks
from gateway.auth.clients.service import registry
from services.common import jws
from services.common.clock import SystemClock

PURPOSE = "KYC_ACCOUNT_OPENING"
ITEMS = ["full_name", "date_of_birth", "address"]
BANK = AuthenticatedCaller(
    client_id="rp-bench-bank", roles=("relying_party",), purposes=(PURPOSE,), processing_location="XS"
)
# The registered clients the rows call as: the bank (relying party) and an auditor (a role eKYC does not admit).
CLIENTS = {
    "bank": ClientCreate(
        client_id=BANK.client_id, name="Bench bank", kind=ClientKind.relying_party, scopes=["identity"],
        purposes=[PURPOSE], processing_location="XS", dpia_ref="D", hria_ref="H",
    ),
    "auditor": ClientCreate(client_id="bench-auditor", name="Bench auditor", kind=ClientKind.auditor),
}  # fmt: skip
PUBLIC_URL = "http://bench"  # the gateway's issuer; its token endpoint is the `aud` of client assertions
JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
IN_FLIGHT = 16
WARMUP = 50


def _with_timings(app: FastAPI) -> FastAPI:
    @app.get("/bench/timings", include_in_schema=False)
    async def timings(request: Request) -> dict[str, Any]:
        proxy = request.app.state.proxy
        return {"count": proxy.timings.count, "cpu": proxy.timings.cpu, "wall": proxy.timings.seconds}

    @app.post("/bench/timings/reset", include_in_schema=False)
    async def reset(request: Request) -> dict[str, str]:
        request.app.state.proxy.timings.reset()
        return {"status": "reset"}

    # ahead of the proxy's catch-all /{service}/{path}
    app.router.routes[:0] = app.router.routes[-2:]
    del app.router.routes[-2:]
    return app


def gateway_app() -> FastAPI:
    """uvicorn --factory: the gateway alone, its services at the URLs in its settings (multi-process mode)."""
    from gateway.app import create_app

    return _with_timings(create_app())


def embedded_app() -> FastAPI:
    """uvicorn --factory: the gateway with every service in-process (embedded mode)."""
    import os

    from dpi_sandbox.embedded import build_embedded

    return _with_timings(build_embedded(var_dir=Path(os.environ["DPI_BENCH_VAR_DIR"])))


@dataclass
class Person:
    vid: str
    sub: str
    template: str
    consent_id: str | None


async def prepare(var_dir: Path, people: int) -> list[Person]:
    """Databases migrated, the bench clients registered and approved at the gateway, the purpose registered and
    approved, people enrolled with a VID and, but for the last tenth, the bank's consent granted: all through the
    services themselves, as the gateway would call them."""
    from dpi_sandbox.embedded import all_settings, build_embedded, upgrade_all
    from tests.conftest import Gateway
    from tests.consent.consent_helpers import ConsentApi
    from tests.identity.identity_helpers import IdentityApi, another_person
    from tests.kit.callers import trust_test_callers

    await upgrade_all(all_settings(var_dir))
    app = build_embedded(var_dir=var_dir)
    prepared: list[Person] = []
    async with app.router.lifespan_context(app):
        await register_clients(app, var_dir)
        signer = Gateway(app.state.signing_key, SystemClock())  # type: ignore[arg-type]
        apps = app.state.service_apps
        for service_app in (apps["identity"], apps["consent"]):
            trust_test_callers(service_app)  # the helpers name their callers as the test kit does
        identity_http = httpx.AsyncClient(transport=httpx.ASGITransport(app=apps["identity"]), base_url="http://i")
        consent_http = httpx.AsyncClient(transport=httpx.ASGITransport(app=apps["consent"]), base_url="http://c")
        identity = IdentityApi(SimpleNamespace(app=apps["identity"], client=identity_http), signer)
        consent = ConsentApi(SimpleNamespace(app=apps["consent"], client=consent_http), signer, SystemClock())
        await consent.purpose(PURPOSE, allowed_items=ITEMS, ekyc_allowed=True, essential=False)
        for number in range(people):
            template = f"synthetic-template:bench:{number}"
            body = another_person(biometric_template=template, consents={"biometric": True, "notices": False})
            enrolled = await identity.enrolled(body)
            vid = (await identity.as_subject(enrolled["sub"], "POST", "/v1/me/vids", json={})).json()["vid"]
            consent_id = None
            if number % 10 != 9:
                granted = await consent.granted(
                    PURPOSE, enrolled["sub"], requester=BANK.client_id, data_items=ITEMS,
                    expires_at=(SystemClock().now() + timedelta(days=30)).isoformat(), jurisdiction=["XS"],
                )  # fmt: skip
                consent_id = granted["id"]
            prepared.append(Person(vid, enrolled["sub"], template, consent_id))
        await identity_http.aclose()
        await consent_http.aclose()
    return prepared


async def register_clients(app: FastAPI, var_dir: Path) -> None:
    """The bench clients in the gateway's registry, approved, each with its key pair under var/keys/clients."""
    now = SystemClock().now()
    async with app.state.sessionmaker() as session, session.begin():
        for spec in CLIENTS.values():
            key = client_key(var_dir / "keys", spec.client_id)
            registered = spec.model_copy(update={"jwks": Jwks(keys=[key.public_jwk()])})
            await registry.register(session, registered, registered_by="bench", now=now, jwks_uri_allowlist=[])
            await registry.approve(session, spec.client_id, approved_by="bench", now=now)


def access_tokens(url: str, var_dir: Path) -> dict[str, str]:
    """An access token per bench client from the gateway's token endpoint (client credentials, private_key_jwt),
    as a client holds one and reuses it until it expires. Fetched before a row starts, so no row outlives them."""
    tokens = {}
    with httpx.Client(base_url=url, timeout=30) as client:
        for name, spec in CLIENTS.items():
            now = int(SystemClock().now().timestamp())
            claims = {"iss": spec.client_id, "sub": spec.client_id, "aud": f"{PUBLIC_URL}/oauth2/token", "iat": now,
                      "exp": now + 300, "jti": uuid.uuid4().hex}  # fmt: skip
            assertion = jws.sign_claims(client_key(var_dir / "keys", spec.client_id), claims)
            form = {"grant_type": "client_credentials", "client_assertion_type": JWT_BEARER,
                    "client_assertion": assertion}  # fmt: skip
            answer = client.post("/oauth2/token", data=form)
            answer.raise_for_status()
            tokens[name] = answer.json()["access_token"]
    return tokens


def kyc_body(person: Person, *, with_individual: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {"factor": {"type": "biometric", "template": person.template}}
    if with_individual:
        body["individual"] = {"type": "vid", "value": person.vid}
    return body


def through_gateway(people: Sequence[Person], count: int, token: str, prefix: str = "/identity") -> list[bytes]:
    headers = {"Authorization": f"Bearer {token}", "X-Purpose": PURPOSE}
    return [json_request("POST", f"{prefix}/v1/kyc", kyc_body(people[i % len(people)]), headers=headers)
            for i in range(count)]  # fmt: skip


def direct(people: Sequence[Person], count: int, var_dir: Path) -> list[bytes]:
    """The same eKYC straight to identity, with the assertion the gateway would have minted (built now)."""
    from services.common.keys import load_or_create_signing_key
    from tests.conftest import Gateway

    signer = Gateway(load_or_create_signing_key(var_dir / "keys", "gateway"), SystemClock())  # type: ignore[arg-type]
    requests = []
    for i in range(count):
        person = people[i % len(people)]
        assertion = signer.headers(
            "identity", client_id=BANK.client_id, roles=BANK.roles, subject_ref=person.sub, purpose=PURPOSE,
            consent_id=person.consent_id, consented_items=tuple(ITEMS), legal_basis="consent",
        )  # fmt: skip
        requests.append(json_request("POST", "/v1/kyc", kyc_body(person, with_individual=False), headers=assertion))
    return requests


def checked(load: Load, expected: Sequence[int], notes: list[str]) -> Result:
    failures = load.failures(expected)
    if failures:
        notes.append(f"{load.result.name}: {failures} unexpected answers, e.g. {load.sample_failure}")
    if load.cpu is not None:
        notes.append(f"{load.result.name}: {load.cpu.describe()}")
    return load.result


STAGES = {  # the gateway's stages (gateway.proxy.service.Timings), in the order a permitted request passes them
    "authentication": "authentication (token verified, client read, rate limit counted)",
    "person resolution": "person resolution (the call to identity)",
    "purpose registry": "purpose registry (cached)",
    "consent call": "consent call",
    "rules": "rules (own work, without the calls above)",
    "assertion": "assertion",
    "proxy": "proxy (the call to the service)",
    "person references": "person references",
    "audit append": "audit append",
}
NESTED_IN_RULES = ("person resolution", "purpose registry", "consent call")


def stage_breakdown(url: str, people: Sequence[Person], count: int, var_dir: Path) -> dict[str, dict[str, float]]:
    """One request at a time, so the gateway's thread CPU in each stage is this request's alone: per permitted
    request, each stage's CPU and wall milliseconds as the gateway measured them, and the wall time the client saw."""
    token = access_tokens(url, var_dir)["bank"]
    with httpx.Client(base_url=url, timeout=30) as client:
        headers = {"Authorization": f"Bearer {token}", "X-Purpose": PURPOSE}
        for person in people[:20]:
            client.post("/identity/v1/kyc", json=kyc_body(person), headers=headers)
        client.post("/bench/timings/reset")
        started = time.perf_counter()
        for i in range(count):
            client.post("/identity/v1/kyc", json=kyc_body(people[i % len(people)]), headers=headers)
        client_ms = (time.perf_counter() - started) * 1000 / count
        timings = client.get("/bench/timings").json()
    measured = max(1, timings["count"])
    breakdown: dict[str, dict[str, float]] = {}
    for kind in ("cpu", "wall"):
        per_request = {stage: seconds * 1000 / measured for stage, seconds in timings[kind].items()}
        if "rules" in per_request:
            per_request["rules"] -= sum(per_request.get(stage, 0.0) for stage in NESTED_IN_RULES)
        breakdown[kind] = per_request
    breakdown["client"] = {"wall per request": client_ms}
    return breakdown


def describe_breakdown(mode: str, breakdown: dict[str, dict[str, float]]) -> str:
    cpu, wall = breakdown["cpu"], breakdown["wall"]
    parts = [f"{label} {cpu.get(stage, 0.0):.2f} / {wall.get(stage, 0.0):.2f}" for stage, label in STAGES.items()]
    return (
        f"{mode}: the gateway per permitted request, one at a time, CPU / wall ms by stage: {'; '.join(parts)}; "
        f"CPU in these stages {sum(cpu.values()):.2f} ms; {breakdown['client']['wall per request']:.2f} ms of wall "
        "per request at the client"
    )


def environment(var_dir: Path, ports: dict[str, int]) -> dict[str, str]:
    env = {"DPI_BENCH_VAR_DIR": str(var_dir)}
    for name in ("gateway", "identity", "consent", "payments", "exchange"):
        env[f"DPI_{name.upper()}_VAR_DIR"] = str(var_dir)
        env[f"DPI_{name.upper()}_REPLAY_STORE"] = "memory"
        env[f"DPI_{name.upper()}_LOG_LEVEL"] = "WARNING"
        env[f"DPI_{name.upper()}_ENVIRONMENT"] = "test"
    env["DPI_GATEWAY_PUBLIC_URL"] = PUBLIC_URL
    env["DPI_GATEWAY_RATE_LIMIT_PER_CLIENT"] = "100000000"  # counted on every request, never reached
    env["DPI_GATEWAY_RATE_LIMIT_ROUTES"] = "{}"
    for name, port in ports.items():
        env[f"DPI_GATEWAY_{name.upper()}_URL"] = f"http://127.0.0.1:{port}"
    return env


def run_mode(
    mode: str, var_dir: Path, people: list[Person], operations: int, notes: list[str]
) -> tuple[list[Result], dict[str, dict[str, float]]]:
    results: list[Result] = []
    consented = [p for p in people if p.consent_id]
    refused = [p for p in people if not p.consent_id]
    ports = {"identity": 18_301, "consent": 18_302, "payments": 18_303, "exchange": 18_304}
    env = environment(var_dir, ports)
    with serve("services.identity.app:create_app", env=env, workers=1, port=ports["identity"]) as identity:
        load = drive(f"{mode}: eKYC straight to identity (assertion pre-minted)", identity,
                     direct(consented, operations, var_dir), concurrency=IN_FLIGHT,
                     warmup=direct(consented, WARMUP, var_dir))  # fmt: skip
        results.append(checked(load, (200,), notes))
        load = drive(f"{mode}: eKYC straight to identity, one at a time", identity,
                     direct(consented, operations // 4, var_dir), concurrency=1)  # fmt: skip
        results.append(checked(load, (200,), notes))
        signer_requests = [
            http_request("GET", "/v1/caller", headers=h) for h in _caller_assertions(var_dir, operations)
        ]
        load = drive(f"{mode}: GET /v1/caller straight to identity", identity, signer_requests, concurrency=IN_FLIGHT)
        results.append(checked(load, (200,), notes))
    if mode == "multi-process":
        with (
            serve("services.identity.app:create_app", env=env, workers=1, port=ports["identity"]),
            serve("services.consent.app:create_app", env=env, workers=1, port=ports["consent"]),
            serve("benchmarks.gateway:gateway_app", env=env, workers=1, port=18_300) as gateway,
        ):
            results += gateway_rows(mode, gateway, var_dir, consented, refused, operations, notes)
            breakdown = stage_breakdown(f"http://127.0.0.1:{gateway.port}", consented, min(300, operations), var_dir)
    else:
        with serve("benchmarks.gateway:embedded_app", env=env, workers=1, port=18_300) as gateway:
            results += gateway_rows(mode, gateway, var_dir, consented, refused, operations, notes)
            # one thread runs the services too here: its CPU per stage is not the gateway's alone
            breakdown = {}
    return results, breakdown


def _caller_assertions(var_dir: Path, count: int) -> list[dict[str, str]]:
    from services.common.keys import load_or_create_signing_key
    from tests.conftest import Gateway

    signer = Gateway(load_or_create_signing_key(var_dir / "keys", "gateway"), SystemClock())  # type: ignore[arg-type]
    return [signer.headers("identity", client_id=BANK.client_id, roles=BANK.roles) for _ in range(count)]


def gateway_rows(
    mode: str,
    gateway: Any,
    var_dir: Path,
    consented: list[Person],
    refused: list[Person],
    operations: int,
    notes: list[str],
) -> list[Result]:
    rows = []
    url = f"http://127.0.0.1:{gateway.port}"
    bank = access_tokens(url, var_dir)["bank"]
    load = drive(f"{mode}: eKYC through the gateway, permitted", gateway, through_gateway(consented, operations, bank),
                 concurrency=IN_FLIGHT, warmup=through_gateway(consented, WARMUP, bank))  # fmt: skip
    rows.append(checked(load, (200,), notes))
    bank = access_tokens(url, var_dir)["bank"]
    load = drive(f"{mode}: eKYC through the gateway, permitted, one at a time", gateway,
                 through_gateway(consented, operations // 4, bank), concurrency=1)  # fmt: skip
    rows.append(checked(load, (200,), notes))
    auditor = access_tokens(url, var_dir)["auditor"]
    load = drive(f"{mode}: eKYC through the gateway, denied by role (SG-SEC-1)", gateway,
                 through_gateway(consented, operations, auditor), concurrency=IN_FLIGHT)  # fmt: skip
    rows.append(checked(load, (403,), notes))
    bank = access_tokens(url, var_dir)["bank"]
    load = drive(f"{mode}: eKYC through the gateway, denied without consent (SG-CONSENT-1)", gateway,
                 through_gateway(refused, operations, bank), concurrency=IN_FLIGHT)  # fmt: skip
    rows.append(checked(load, (403,), notes))
    bank = access_tokens(url, var_dir)["bank"]
    caller = [http_request("GET", "/identity/v1/caller", headers={"Authorization": f"Bearer {bank}"})
              for _ in range(operations)]  # fmt: skip
    load = drive(f"{mode}: GET /identity/v1/caller through the gateway", gateway, caller, concurrency=IN_FLIGHT)
    rows.append(checked(load, (200,), notes))
    return rows


def ratios(results: list[Result], mode: str, notes: list[str]) -> list[str]:
    by_name = {r.name: r for r in results}
    direct_kyc = by_name[f"{mode}: eKYC straight to identity (assertion pre-minted)"]
    permitted = by_name[f"{mode}: eKYC through the gateway, permitted"]
    denied_role = by_name[f"{mode}: eKYC through the gateway, denied by role (SG-SEC-1)"]
    denied_consent = by_name[f"{mode}: eKYC through the gateway, denied without consent (SG-CONSENT-1)"]
    direct_noop = by_name[f"{mode}: GET /v1/caller straight to identity"]
    direct_one = by_name[f"{mode}: eKYC straight to identity, one at a time"]
    through_one = by_name[f"{mode}: eKYC through the gateway, permitted, one at a time"]
    through_noop = by_name[f"{mode}: GET /identity/v1/caller through the gateway"]
    return [
        f"{mode}: through the gateway {permitted.per_second / direct_kyc.per_second:.0%} of the direct rate "
        f"(target ≥ 40% in multi-process); p50 added {permitted.percentile(0.5) - direct_kyc.percentile(0.5):.2f} ms, "
        f"p99 added {permitted.percentile(0.99) - direct_kyc.percentile(0.99):.2f} ms (target p50 ≤ 2 ms)",
        f"{mode}: one request at a time, p50 added {through_one.percentile(0.5) - direct_one.percentile(0.5):.2f} ms, "
        f"p99 added {through_one.percentile(0.99) - direct_one.percentile(0.99):.2f} ms",
        f"{mode}: a denial by role runs at {denied_role.per_second / permitted.per_second:.1f}x the permitted rate, "
        f"a denial by consent at {denied_consent.per_second / permitted.per_second:.1f}x (target ≥ 2x)",
        f"{mode}: the protected no-op through the gateway {through_noop.per_second / direct_noop.per_second:.0%} of "
        f"direct; p50 added {through_noop.percentile(0.5) - direct_noop.percentile(0.5):.2f} ms",
    ]


async def main(quick: bool) -> None:
    import os

    for name in ("GATEWAY", "IDENTITY", "CONSENT", "PAYMENTS", "EXCHANGE"):
        os.environ.setdefault(f"DPI_{name}_LOG_LEVEL", "WARNING")
    operations = 200 if quick else 1200
    people = 40 if quick else 150
    notes = [
        f"uvicorn (httptools, uvloop), one process per app; the load driver is another process keeping {IN_FLIGHT} "
        f"requests in flight. Load average at the start: {', '.join(f'{x:.1f}' for x in os.getloadavg())} (on a "
        "machine shared with other work, figures vary from run to run).",
        "Permitted eKYC: consent covers full_name, date_of_birth and address; identity releases them after the "
        "person's simulated biometric matches. Direct rows send the body without the VID (the assertion names the "
        "sub), so identity does the same work in both.",
    ]
    results: list[Result] = []
    breakdowns: dict[str, dict[str, dict[str, float]]] = {}
    with serve("benchmarks._common:bare_app", env={}, workers=1, port=18_390, ready_path="/ping") as bare:
        load = drive("baseline: bare FastAPI GET, 1 worker", bare, [http_request("GET", "/ping")] * operations,
                     concurrency=IN_FLIGHT)  # fmt: skip
        results.append(checked(load, (200,), notes))
    summary: list[str] = []
    for mode in ("embedded", "multi-process"):
        with tempfile.TemporaryDirectory() as scratch:
            var_dir = Path(scratch)
            prepared = await prepare(var_dir, people)
            rows, breakdown = run_mode(mode, var_dir, prepared, operations, notes)
            results += rows
            breakdowns[mode] = breakdown
            summary += ratios(rows, mode, notes)
    for mode, breakdown in breakdowns.items():
        if breakdown:
            summary.append(describe_breakdown(mode, breakdown))
    report("Gateway: a consent-gated request through the gateway and direct" + (" (--quick)" if quick else ""),
           results, summary + notes)  # fmt: skip
    print(json.dumps({"breakdown": breakdowns}, indent=None))


if __name__ == "__main__":
    asyncio.run(main(arguments(__doc__ or "").quick))
