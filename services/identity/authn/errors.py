"""Problems the authentication domain answers with; each `code` is stable once published."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.common.problems import Conflict, InvalidInput, ProblemError
from services.identity.authn.models import PersonFactor

# Every way in that is not a biometric (SG-INCL-2): offered whenever a biometric or a PIN does not work.
NON_BIOMETRIC_ALTERNATIVES = tuple(f.value for f in PersonFactor if f is not PersonFactor.biometric)


class AuthenticationFailed(ProblemError):
    """The factor did not authenticate the person. The body says `authenticated: false`, as a yes/no answer."""

    status = 401
    title = "Authentication failed"
    type_slug = "identity/authn-failed"
    code = "identity.authn.failed"

    def __init__(self, detail: str, *, factor: str, reason: str, **extensions: Any) -> None:
        super().__init__(detail, authenticated=False, factor=factor, reason=reason, **extensions)
        self.reason = reason


class BiometricUseAlternative(AuthenticationFailed):
    """SG-INCL-2: repeated biometric failure points to other factors; it never locks the person out."""

    title = "Biometric not matched: please use another way to authenticate"
    type_slug = "identity/authn-biometric-alternatives"
    code = "identity.authn.biometric_use_alternative"
    rule_id = "SG-INCL-2"

    def __init__(self, detail: str, *, reason: str, consecutive_failures: int, **extensions: Any) -> None:
        super().__init__(
            detail,
            factor="biometric",
            reason=reason,
            consecutive_failures=consecutive_failures,
            alternatives=list(NON_BIOMETRIC_ALTERNATIVES),
            locked=False,
            **extensions,
        )


class PinPaused(AuthenticationFailed):
    """Too many wrong PINs in a row through one client: the PIN rests there until the person authenticates again."""

    title = "PIN paused after repeated failures: please use another way to authenticate"
    type_slug = "identity/authn-pin-paused"
    code = "identity.authn.pin_paused"

    def __init__(self, detail: str, **extensions: Any) -> None:
        alternatives = [a for a in NON_BIOMETRIC_ALTERNATIVES if a != "pin"]
        super().__init__(
            detail, factor="pin", reason="pin.paused", alternatives=[*alternatives, "biometric"], **extensions
        )


class PinCeilingReached(AuthenticationFailed):
    """Too many wrong PINs through all clients together within the window: the PIN rests everywhere until the window
    moves on or the person proves themselves with another factor. 429 with Retry-After."""

    status = 429
    title = "PIN paused everywhere after too many wrong guesses: please use another way to authenticate"
    type_slug = "identity/authn-pin-ceiling"
    code = "identity.authn.pin_ceiling"

    def __init__(self, detail: str, *, retry_after: int, **extensions: Any) -> None:
        alternatives = [a for a in NON_BIOMETRIC_ALTERNATIVES if a not in ("pin", "offline_qr")]
        super().__init__(
            detail, factor="pin", reason="pin.ceiling", alternatives=[*alternatives, "biometric"], **extensions
        )
        self.headers = {"Retry-After": str(retry_after)}


class OtpSendLimited(ProblemError):
    """Too many one-time codes sent to this person (by this client, or by all of them) within the window."""

    status = 429
    title = "Too many one-time codes sent to this person: try again later, or use another way"
    type_slug = "identity/authn-otp-send-limit"
    code = "identity.authn.otp_send_limit"

    def __init__(self, detail: str, *, retry_after: int, scope: str) -> None:
        alternatives = [a for a in NON_BIOMETRIC_ALTERNATIVES if a not in ("otp", "offline_qr")]
        super().__init__(
            detail,
            headers={"Retry-After": str(retry_after)},
            limit=scope,
            retry_after=retry_after,
            alternatives=[*alternatives, "biometric"],
        )


class PinProofRequired(AuthenticationFailed):
    """Changing an existing PIN needs the current one, or a fresh OTP if it is forgotten."""

    title = "Changing a PIN needs the current PIN or a one-time code"
    type_slug = "identity/authn-pin-proof-required"
    code = "identity.authn.pin_proof_required"


class OtpChannelUnavailable(Conflict):
    title = "No phone number or e-mail address on record to send a one-time code to"
    type_slug = "identity/authn-no-otp-channel"
    code = "identity.authn.no_otp_channel"

    def __init__(self, detail: str, *, alternatives: Sequence[str]) -> None:
        super().__init__(detail, alternatives=list(alternatives))


class IndividualRequired(InvalidInput):
    title = "Say who is authenticating"
    type_slug = "identity/authn-individual-required"
    code = "identity.authn.individual_required"


class IndividualMismatch(InvalidInput):
    title = "The individual in the body is not the subject the gateway resolved"
    type_slug = "identity/authn-individual-mismatch"
    code = "identity.authn.individual_mismatch"


class LastOwnFactor(Conflict):
    """Locking this would leave the person neither one-time codes nor a PIN: their own app signs in with those."""

    title = "Keep one way to sign in unlocked"
    type_slug = "identity/authn-last-own-factor"
    code = "identity.authn.last_own_factor"
