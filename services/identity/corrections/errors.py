"""Problems the corrections domain answers with."""

from __future__ import annotations

from services.common.problems import Conflict, NotFound


class CorrectionNotFound(NotFound):
    title = "Correction case not found"
    type_slug = "identity/correction-not-found"
    code = "identity.correction_not_found"


class CorrectionAlreadyDecided(Conflict):
    title = "Correction case already decided"
    type_slug = "identity/correction-decided"
    code = "identity.correction_decided"
