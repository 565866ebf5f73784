"""Problems the identity-exception domain answers with; each `code` is stable once published."""

from __future__ import annotations

from services.common.problems import Conflict, NotFound


class ExceptionCaseNotFound(NotFound):
    title = "Identity exception case not found"
    type_slug = "identity/exception-case-not-found"
    code = "identity.exception_case_not_found"


class ExceptionCaseAlreadyDecided(Conflict):
    title = "Identity exception case already decided"
    type_slug = "identity/exception-case-decided"
    code = "identity.exception_case_decided"
