"""Signed receipts (ISO/IEC TS 27560 shape): every artefact version gets one, a JWS over the canonical record.

The record has the standard's four parts (header, processing, parties, events) plus the status it records and the
digest of the artefact's previous receipt, so a subject's receipts for one artefact form a chain (as GovStack's
consent revisions do). It verifies offline with nothing but the consent service's published JWKS.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.common import jws
from services.common.assertion import Caller
from services.common.paging import PageRequest
from services.common.problems import NotFound
from services.consent.consents.models import Consent, ConsentEvent
from services.consent.consents.schemas import DPV_STATUS, ConsentStatus
from services.consent.deps import Runtime
from services.consent.receipts.models import Receipt
from services.consent.receipts.repository import ReceiptRepository
from services.consent.receipts.schemas import RECEIPT_JWS_TYPE, RECEIPT_SCHEMA_VERSION, ReceiptPage, ReceiptRead


class ReceiptNotFound(NotFound):
    title = "Receipt not found"
    type_slug = "consent/receipt-not-found"
    code = "consent.receipt_not_found"


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def event_record(event: ConsentEvent) -> dict[str, Any]:
    return {
        "status": event.status,
        "dpv_status": DPV_STATUS[ConsentStatus(event.status)],
        "time": _time(event.at),
        "method": event.channel,
        "actor": event.actor,
        "actor_type": event.actor_type,
        "assisted_by": event.assisted_by,
        "subject_confirmed": event.subject_confirmed,
    }


def consent_record(
    consent: Consent,
    history: Sequence[ConsentEvent],
    *,
    receipt_id: str,
    issued_at: datetime,
    predecessor: Receipt | None,
) -> dict[str, Any]:
    """The ISO/IEC TS 27560-shaped record of the artefact as it is now."""
    return {
        "schema_version": RECEIPT_SCHEMA_VERSION,
        "receipt_id": receipt_id,
        "issued_at": _time(issued_at),
        "issuer": "consent",
        "header": {
            "record_id": consent.id,
            "version": consent.version,
            "created_at": _time(consent.created_at),
            "updated_at": _time(consent.updated_at),
        },
        "status": {"value": consent.status, "dpv_status": DPV_STATUS[ConsentStatus(consent.status)]},
        "processing": {
            "purpose": {
                "code": consent.purpose,
                "dpv_purpose": consent.notice.get("dpv_purpose"),
                "essential": consent.essential,
                "notice": {k: consent.notice[k] for k in ("language", "fell_back", "title", "description")},
            },
            "legal_basis": consent.legal_basis,
            "personal_data": list(consent.items),
            "validity": {"from": _time(consent.valid_from), "until": _time(consent.expires_at)},
            "data_life": {"unit": consent.data_life_unit, "value": consent.data_life_value},
            "data_life_until": _time(consent.data_life_until),
            "frequency": (
                {"unit": consent.frequency_unit, "value": consent.frequency_value} if consent.frequency_unit else None
            ),
            "use_count": consent.use_limit,
            "jurisdiction": list(consent.jurisdiction),
            "transfer_basis": consent.transfer_basis,
        },
        "parties": {"controller": consent.requester, "data_subject": consent.subject},
        "links": {"revoke": consent.revoke_url, "grievance": consent.grievance_url},
        "events": [event_record(event) for event in history],
        "predecessor": (
            {"receipt_id": predecessor.id, "sha256": hashlib.sha256(predecessor.jws.encode()).hexdigest()}
            if predecessor is not None
            else None
        ),
    }


class ReceiptService:
    async def issue(
        self,
        session: AsyncSession,
        consent: Consent,
        history: Sequence[ConsentEvent],
        *,
        receipt_id: str,
        rt: Runtime,
    ) -> Receipt:
        """Sign the artefact's current version (with `history` up to and including this change) and store it."""
        issued_at = rt.clock.now()
        repository = ReceiptRepository.from_session(session)
        predecessor = await repository.latest_for_consent(consent.id)
        record = consent_record(consent, history, receipt_id=receipt_id, issued_at=issued_at, predecessor=predecessor)
        key = rt.signing_key
        token = jws.sign_record(key, record, typ=RECEIPT_JWS_TYPE)
        receipt = Receipt(
            id=receipt_id,
            consent_id=consent.id,
            subject=consent.subject,
            artefact_version=consent.version,
            status=consent.status,
            issued_at=issued_at,
            kid=key.kid,
            jws=token,
        )
        session.add(receipt)
        return receipt

    async def list_mine(
        self, session: AsyncSession, caller: Caller, *, consent_id: str | None, paging: PageRequest
    ) -> ReceiptPage:
        receipts = await ReceiptRepository.from_session(session).page_for_subject(
            caller.subject_ref or "", consent_id=consent_id, before=paging.after, limit=paging.limit + 1
        )
        return ReceiptPage.of(receipts, paging, position=lambda receipt: receipt.id, item=self.view)

    async def get_mine(self, session: AsyncSession, caller: Caller, receipt_id: str) -> ReceiptRead:
        receipt = await ReceiptRepository.from_session(session).get_for_subject(receipt_id, caller.subject_ref or "")
        if receipt is None:
            raise ReceiptNotFound(f"You have no receipt {receipt_id}.")
        return self.view(receipt)

    @staticmethod
    def view(receipt: Receipt) -> ReceiptRead:
        record = jws.unverified_claims(receipt.jws)  # our own signature, stored as issued
        return ReceiptRead(
            id=receipt.id,
            consent_id=receipt.consent_id,
            artefact_version=receipt.artefact_version,
            status=ConsentStatus(receipt.status),
            issued_at=receipt.issued_at,
            kid=receipt.kid,
            jws=receipt.jws,
            record=record,
        )


receipt = ReceiptService()
