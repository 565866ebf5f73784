"""Issuing a person's signed offline credential (SG-INCL-4). Never commits."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.keys import SigningKey
from services.identity.credentials.offline import (
    DEFAULT_ISSUER,
    OFFLINE_VERIFIER_ID,
    issue_offline_credential,
    qr_payload,
)
from services.identity.credentials.schemas import OfflineCredentialClaims, OfflineCredentialRead
from services.identity.deps import Runtime
from services.identity.persons.service import person as person_service

log = structlog.get_logger(__name__)


def display_name(values: dict[str, str]) -> str:
    return values.get("full_name") or " ".join(v for n in ("given_name", "family_name") if (v := values.get(n)))


class OfflineCredentialService:
    async def issue(
        self, session: AsyncSession, caller: Caller, *, rt: Runtime, signing_key: SigningKey
    ) -> OfflineCredentialRead:
        """Sign the caller's minimal offline credential: display name, offline-verifier token, photo-hash stand-in."""
        person = await person_service.get_active_by_sub(session, caller.subject_ref)
        values = await person_service.read_attributes(session, person.id, rt=rt)
        uin = await person_service.uin_of(session, person, rt=rt)
        claims = OfflineCredentialClaims(
            sub=rt.keyring.pairwise_token(OFFLINE_VERIFIER_ID, uin),
            name=display_name(values),
            photo_hash=(
                "sha256:" + rt.keyring.fingerprint("offline-photo", person.biometric_hash)
                if person.biometric_hash
                else None
            ),
        )
        # Whole seconds: that is all the JWS carries, and the response should say exactly what the token says.
        issued_at = datetime.fromtimestamp(int(rt.clock.now().timestamp()), tz=UTC)
        expires_at = issued_at + timedelta(days=rt.settings.offline_credential_validity_days)
        token = issue_offline_credential(
            signing_key, claims.model_dump(exclude_none=True), issued_at=issued_at, expires_at=expires_at
        )
        await rt.outbox.add(session, "identity.offline_credential.issued", {"person_id": person.id, "sub": person.sub})
        log.info("identity.offline_credential.issued", person_id=person.id)
        return OfflineCredentialRead(
            credential=token,
            qr_payload=qr_payload(token),
            claims=claims,
            issuer=DEFAULT_ISSUER,
            key_id=signing_key.kid,
            issued_at=issued_at,
            expires_at=expires_at,
        )


offline_credential = OfflineCredentialService()
