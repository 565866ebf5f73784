"""Offline verification of signed payment records: only the records and the published JWKS, no network.

Each step's JWS must verify with an ES256 key of the JWKS (by kid, typ pinned), and its payload must be the
RFC 8785 canonical form of the record shown beside it, so a flipped amount in either is caught.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from services.common import jws
from services.payments.records.schemas import RECORD_TYPE


@dataclass(frozen=True)
class StepCheck:
    record_id: str
    step: str
    ok: bool
    reason: str


def verify_step(step: dict[str, Any], jwks: dict[str, Any]) -> StepCheck:
    record_id, name = str(step.get("record_id", "?")), str(step.get("step", "?"))
    try:
        verified = jws.verify_record(str(step.get("jws", "")), jwks, typ=RECORD_TYPE)
    except jws.InvalidToken as error:
        return StepCheck(record_id, name, False, f"signature: {error.reason}")
    if verified.claims != step.get("record"):
        return StepCheck(record_id, name, False, "the record differs from what was signed")
    if verified.claims.get("record_id") != record_id:
        return StepCheck(record_id, name, False, "the signed record has another id")
    return StepCheck(record_id, name, True, "valid")


def verify_records(bundle: dict[str, Any], jwks: dict[str, Any]) -> list[StepCheck]:
    """Every step of a `GET /v1/payments/{id}/records` answer."""
    return [verify_step(step, jwks) for step in bundle.get("steps", [])]
