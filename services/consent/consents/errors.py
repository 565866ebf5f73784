"""Problems the consent artefacts answer with."""

from __future__ import annotations

from services.common.problems import Conflict, InvalidInput, NotFound
from services.consent.errors import RuleInvalid


class ArtefactInvalid(RuleInvalid):
    """SG-CONSENT-2/3/5/6, SG-PURPOSE-1, SG-RETAIN-1 or SG-XBORDER-1 refuse the artefact; nothing is stored."""

    title = "Consent artefact refused by a safeguard rule"
    type_slug = "consent/artefact-invalid"
    code = "consent.artefact_invalid"


class ConsentNotFound(NotFound):
    title = "Consent not found"
    type_slug = "consent/consent-not-found"
    code = "consent.not_found"


class ConsentTransitionRefused(Conflict):
    title = "The consent cannot make that change from its current status"
    type_slug = "consent/transition"
    code = "consent.transition"


class AssistedWithoutOperator(InvalidInput):
    title = "An assisted-channel change needs the operator's id"
    type_slug = "consent/assisted-without-operator"
    code = "consent.assisted_without_operator"
