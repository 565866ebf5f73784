"""Offline credentials (SG-INCL-4): issuing, listing and revoking them, and the status list. Never commits."""

from __future__ import annotations

import secrets
from datetime import UTC, datetime, timedelta

import structlog
from sqlalchemy.ext.asyncio import AsyncSession

from services.common.assertion import Caller
from services.common.ids import new_id
from services.common.keys import SigningKey
from services.identity.credentials.errors import OfflineCredentialNotFound, OfflineCredentialRefused, StatusListFull
from services.identity.credentials.models import OfflineCredential
from services.identity.credentials.offline import (
    DEFAULT_ISSUER,
    OFFLINE_VERIFIER_ID,
    issue_offline_credential,
    qr_payload,
)
from services.identity.credentials.repository import OfflineCredentialRepository
from services.identity.credentials.schemas import (
    OfflineCredentialClaims,
    OfflineCredentialEntry,
    OfflineCredentialList,
    OfflineCredentialRead,
    OfflineCredentialStatus,
)
from services.identity.credentials.status_list import sign_status_list
from services.identity.deps import Runtime
from services.identity.persons.models import Person
from services.identity.persons.service import display_name
from services.identity.persons.service import person as person_service

log = structlog.get_logger(__name__)

STATUS_LIST_ID = "1"
STATUS_LIST_PATH = f"/v1/credentials/status-lists/{STATUS_LIST_ID}"
# Random draws before giving up: one in eight of a list already taken still fails once in 10^27 issuances.
INDEX_DRAWS = 30


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
        credential_id, index = await self._claim_status_entry(session, person, issued_at, expires_at, rt=rt)
        uri = self.status_list_uri(rt)
        try:
            token = issue_offline_credential(
                signing_key,
                claims.model_dump(exclude_none=True),
                issued_at=issued_at,
                expires_at=expires_at,
                status=(index, uri),
            )
        except ValueError:
            raise OfflineCredentialRefused(
                "The name on record holds a number shaped like a UIN, which an offline credential may never carry. "
                "Ask a registrar to correct the name (POST /v1/me/corrections)."
            ) from None
        await rt.outbox.add(
            session,
            "identity.offline_credential.issued",
            {"person_id": person.id, "sub": person.sub, "credential_id": credential_id},
        )
        log.info("identity.offline_credential.issued", person_id=person.id, credential_id=credential_id)
        return OfflineCredentialRead(
            id=credential_id,
            credential=token,
            qr_payload=qr_payload(token),
            claims=claims,
            issuer=DEFAULT_ISSUER,
            key_id=signing_key.kid,
            status_index=index,
            status_list_uri=uri,
            issued_at=issued_at,
            expires_at=expires_at,
        )

    async def list_mine(self, session: AsyncSession, caller: Caller, *, rt: Runtime) -> OfflineCredentialList:
        person = await person_service.get_active_by_sub(session, caller.subject_ref)
        rows = await OfflineCredentialRepository.from_session(session).of_person(person.id)
        return OfflineCredentialList(items=[self._entry(row, now=rt.clock.now()) for row in rows])

    async def revoke_mine(
        self, session: AsyncSession, caller: Caller, credential_id: str, *, rt: Runtime
    ) -> OfflineCredentialEntry:
        """Revoke one of the caller's credentials (a lost or copied QR code); revoking it again changes nothing."""
        person = await person_service.get_active_by_sub(session, caller.subject_ref)
        repository = OfflineCredentialRepository.from_session(session)
        row = await repository.get(credential_id)
        if row is None or row.person_id != person.id:
            raise OfflineCredentialNotFound(f"You have no offline credential {credential_id}.")
        now = rt.clock.now()
        if await repository.revoke(row.id, at=now, by=caller.client_id):
            await rt.outbox.add(
                session,
                "identity.offline_credential.revoked",
                {"person_id": person.id, "sub": person.sub, "credential_id": row.id},
            )
            log.info("identity.offline_credential.revoked", person_id=person.id, credential_id=row.id)
        await session.refresh(row)  # revoked now, by this call or an earlier one
        return self._entry(row, now=now)

    async def status_list_token(self, session: AsyncSession, *, rt: Runtime, signing_key: SigningKey) -> str:
        """The signed Status List Token: one bit per entry, set for every revoked credential."""
        revoked = await OfflineCredentialRepository.from_session(session).revoked_indices()
        return sign_status_list(
            signing_key,
            uri=self.status_list_uri(rt),
            revoked=revoked,
            size=rt.settings.offline_status_list_size,
            issued_at=rt.clock.now(),
            ttl_seconds=rt.settings.offline_status_list_ttl_seconds,
        )

    async def is_revoked(self, session: AsyncSession, person: Person, index: int) -> bool:
        """Whether the credential on `index` was revoked, or is not one of `person`'s at all."""
        row = await OfflineCredentialRepository.from_session(session).by_index(index)
        return row is None or row.person_id != person.id or row.revoked_at is not None

    @staticmethod
    def status_list_uri(rt: Runtime) -> str:
        """Behind the gateway, like the OIDC endpoints: derived from the issuer's public base URL."""
        return rt.settings.oidc_issuer.rstrip("/") + STATUS_LIST_PATH

    async def _claim_status_entry(
        self, session: AsyncSession, person: Person, issued_at: datetime, expires_at: datetime, *, rt: Runtime
    ) -> tuple[str, int]:
        repository = OfflineCredentialRepository.from_session(session)
        credential_id = new_id("ocr")
        for _ in range(INDEX_DRAWS):
            index = secrets.randbelow(rt.settings.offline_status_list_size)
            if await repository.claim_index(
                credential_id, person.id, index, issued_at=issued_at, expires_at=expires_at
            ):
                return credential_id, index
        log.error("identity.offline_credential.status_list_full", draws=INDEX_DRAWS)
        raise StatusListFull("No free status list entry was found; the operator must enlarge the list.")

    @staticmethod
    def _entry(row: OfflineCredential, *, now: datetime) -> OfflineCredentialEntry:
        if row.revoked_at is not None:
            status = OfflineCredentialStatus.revoked
        elif row.expires_at <= now:
            status = OfflineCredentialStatus.expired
        else:
            status = OfflineCredentialStatus.valid
        return OfflineCredentialEntry(
            id=row.id,
            status=status,
            status_index=row.status_index,
            issued_at=row.issued_at,
            expires_at=row.expires_at,
            revoked_at=row.revoked_at,
        )


offline_credential = OfflineCredentialService()
