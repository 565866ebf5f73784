"""eKYC release under purpose and consent (SG-MIN-2). Never commits."""

from __future__ import annotations

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from services.common import jws
from services.common.assertion import Caller
from services.common.keys import SigningKey
from services.common.problems import PolicyDenied
from services.identity.authn import attempts
from services.identity.authn.factors import factors
from services.identity.authn.models import Factor, Operation
from services.identity.authn.otp import AUTHN_SCOPE
from services.identity.authn.service import authn as authn_service
from services.identity.config import KycAttribute
from services.identity.deps import Runtime
from services.identity.kyc.schemas import KycRequest, KycResponse
from services.identity.persons.service import display_name
from services.identity.persons.service import person as person_service

KYC_TOKEN_TYPE = "dpi-kyc+jwt"  # noqa: S105 (a JWT media type)


def _deny(detail: str) -> PolicyDenied:
    return PolicyDenied("SG-MIN-2", detail)


def _value(values: dict[str, str], name: KycAttribute) -> str | None:
    if name == "full_name" and not values.get("full_name"):
        return display_name(values) or None
    return values.get(name)


class KycService:
    async def release(
        self, session: AsyncSession, caller: Caller, body: KycRequest, *, rt: Runtime, signing_key: SigningKey
    ) -> KycResponse:
        """The attributes the purpose's KYC policy allows intersected with the consented ones; 403 otherwise.

        Policy first, so that a request that may not be answered spends none of the person's OTP guesses; then the
        person's factor, whose failure is recorded and releases nothing.
        """
        allowed = rt.settings.kyc_purposes.get(caller.purpose) if caller.purpose else None
        if allowed is None:
            raise _deny(
                f"The purpose {caller.purpose or '(none)'} does not allow eKYC: verification answers yes/no or "
                "predicates only (POST /v1/authn, /v1/authn/predicates)."
            )
        if not caller.consent_id or caller.consented_items is None:
            raise _deny(
                "eKYC needs the person's consent: the gateway supplied no verified consent (id and data items)."
            )
        consented = set(caller.consented_items)
        requested = set(body.attributes) if body.attributes is not None else consented
        releasable = [name for name in allowed if name in consented and name in requested]
        if not releasable:
            raise _deny(f"No attribute is both consented and allowed for the purpose {caller.purpose}.")
        asked = dict.fromkeys([*caller.consented_items, *(body.attributes or ())])
        withheld = [name for name in asked if name not in releasable]

        authn_service.admit(caller, body.factor)
        person = await authn_service.identify(session, caller, body.individual, rt=rt)
        factor = Factor(body.factor.type)
        check = await factors.check_factor(
            session, person, body.factor, client_id=caller.client_id, scope=AUTHN_SCOPE, rt=rt, signing_key=signing_key
        )
        if not check.ok:
            await attempts.record(session, caller, person, operation=Operation.kyc, factor=factor, check=check, rt=rt)
            raise check.refusal(factor)
        values = await person_service.read_attributes(session, person.id, rt=rt)
        attributes = {name: value for name in releasable if (value := _value(values, name)) is not None}
        event = await attempts.record(
            session,
            caller,
            person,
            operation=Operation.kyc,
            factor=factor,
            check=check,
            attributes=list(attributes),
            rt=rt,
        )
        try:
            subject_token: str | None = await authn_service.subject_token(
                session, caller, person, caller.client_id, rt=rt
            )
        except ValidationError:
            subject_token = None
        signed = jws.sign_claims(
            signing_key,
            {
                "iss": rt.settings.oidc_issuer,
                "aud": caller.client_id,
                "sub": subject_token,
                "iat": int(event.occurred_at.timestamp()),
                "txn": event.id,
                "purpose": caller.purpose,
                "consent_id": caller.consent_id,
                "attributes": attributes,
            },
            typ=KYC_TOKEN_TYPE,
        )
        return KycResponse(
            attributes=attributes,
            withheld=withheld,
            purpose=caller.purpose or "",
            consent_id=caller.consent_id,
            subject_token=subject_token,
            transaction_id=event.id,
            issued_at=event.occurred_at,
            signed_kyc=signed,
        )


kyc = KycService()
