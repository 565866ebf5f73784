"""Problems the adjudication domain answers with."""

from __future__ import annotations

from services.common.problems import Conflict, NotFound


class CaseNotFound(NotFound):
    title = "Adjudication case not found"
    type_slug = "identity/adjudication-case-not-found"
    code = "identity.adjudication_case_not_found"


class CaseAlreadyDecided(Conflict):
    title = "Adjudication case already decided"
    type_slug = "identity/adjudication-case-decided"
    code = "identity.adjudication_case_decided"
