"""Problems the identity-exception domain answers with; each `code` is stable once published."""

from __future__ import annotations

from services.common.problems import Conflict, NotFound

INCL_1_REFS = ("UDPI-SF F3", "UDPI-SF O3.21", "UDPI-SF F2.5", "MGF-DLI User value", "ID4D P1", "ID4D P2")
INCL_3_REFS = ("UDPI-SF F3", "UDPI-SF O6.3", "UDPI-SF F2.5")


class ExceptionCaseNotFound(NotFound):
    title = "Identity exception case not found"
    type_slug = "identity/exception-case-not-found"
    code = "identity.exception_case_not_found"


class ExceptionCaseAlreadyDecided(Conflict):
    title = "Identity exception case already decided"
    type_slug = "identity/exception-case-decided"
    code = "identity.exception_case_decided"
