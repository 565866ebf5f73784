"""Problems the purpose registry answers with."""

from __future__ import annotations

from services.common.problems import Conflict, NotFound
from services.consent.errors import RuleInvalid


class PurposeNotFound(NotFound):
    title = "Purpose not found"
    type_slug = "consent/purpose-not-found"
    code = "consent.purpose_not_found"


class PurposeExists(Conflict):
    title = "A purpose with this code exists"
    type_slug = "consent/purpose-exists"
    code = "consent.purpose_exists"


class PurposeTransitionRefused(Conflict):
    title = "The purpose cannot move to that status from its current one"
    type_slug = "consent/purpose-transition"
    code = "consent.purpose_transition"


class PurposeInvalid(RuleInvalid):
    """SG-HRIA-1 (impact assessments) or SG-NONDISC-1 (protected attributes) refuse the purpose."""

    title = "Purpose refused by a safeguard rule"
    type_slug = "consent/purpose-invalid"
    code = "consent.purpose_invalid"
