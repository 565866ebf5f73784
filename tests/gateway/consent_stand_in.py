"""A stand-in for the consent service's two gateway-facing operations, built to its published contract
(`POST /v1/decisions`, `GET /v1/purposes/{code}`), for the rule-engine tests until the consent service is on main.

It verifies the gateway's own assertion exactly as a service does (role `gateway`, client `dpi-gateway`) and keeps
every question it was asked, so tests can check what the gateway asked. It decides as the contract says: a permit
names the consent and the covered items; a deny is a 200 answer naming its rule.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from services.common.assertion import AssertionVerifier, MemoryReplayGuard, StaticJwks
from services.common.clock import Clock
from services.common.ids import new_id


@dataclass
class Grant:
    consent_id: str
    items: tuple[str, ...]
    status: str = "active"  # active | revoked | expired


@dataclass
class ConsentStandIn:
    clock: Clock
    gateway_jwks: dict[str, Any]
    purposes: dict[str, dict[str, Any]] = field(default_factory=dict)
    grants: dict[tuple[str, str, str], Grant] = field(default_factory=dict)
    asked: list[dict[str, Any]] = field(default_factory=list)
    callers: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)

    def purpose(self, code: str, items: list[str], *, status: str = "active", statutes: Any = ()) -> None:
        self.purposes[code] = {
            "code": code, "status": status, "allowed_items": items, "statutes": list(statutes),
            "legal_basis": "dpv:Consent", "essential": False, "ekyc_allowed": True,
        }  # fmt: skip

    def grant(self, requester: str, subject: str, purpose: str, items: list[str]) -> str:
        consent_id = new_id("cns")
        self.grants[(requester, subject, purpose)] = Grant(consent_id, tuple(items))
        return consent_id

    def app(self) -> FastAPI:
        verifier = AssertionVerifier(
            audience="consent",
            jwks=StaticJwks(self.gateway_jwks),
            clock=self.clock,
            replay_guard=MemoryReplayGuard(self.clock),
        )
        app = FastAPI()

        async def gateway_only(request: Request) -> JSONResponse | None:
            caller = await verifier.verify(request.headers.get("X-Gateway-Assertion"))
            self.callers.append((caller.client_id, caller.roles))
            if "gateway" not in caller.roles:
                return JSONResponse({"title": "forbidden", "status": 403}, status_code=403)
            return None

        @app.get("/v1/purposes/{code}")
        async def purpose(code: str, request: Request) -> JSONResponse:
            if (refused := await gateway_only(request)) is not None:
                return refused
            found = self.purposes.get(code)
            if found is None or found["status"] == "draft":
                return JSONResponse({"title": "Unknown purpose", "status": 404}, status_code=404)
            return JSONResponse(found)

        @app.post("/v1/decisions")
        async def decide(request: Request) -> JSONResponse:
            if (refused := await gateway_only(request)) is not None:
                return refused
            body = await request.json()
            self.asked.append(body)
            grant = self.grants.get((body["requester"], body["subject"], body["purpose"]))
            answer: dict[str, Any] = {
                "decision": "deny", "decision_id": new_id("dec"), "consent_id": None, "artefact_version": None,
                "covered_items": [], "purpose": body["purpose"], "legal_basis": None, "valid_until": None,
                "rule_id": "SG-CONSENT-1", "detail": "No consent covers this requester, subject and purpose.",
            }  # fmt: skip
            if grant is not None:
                answer["consent_id"] = grant.consent_id
                if grant.status == "revoked":
                    answer.update(rule_id="SG-CONSENT-4", detail="The consent was revoked.")
                elif grant.status == "expired":
                    answer.update(rule_id="SG-CONSENT-5", detail="The consent has expired.")
                else:
                    covered = [item for item in body["items"] if item in grant.items]
                    answer.update(
                        decision="permit", covered_items=covered, legal_basis="consent", rule_id=None, detail=None
                    )
            return JSONResponse(answer)

        return app
