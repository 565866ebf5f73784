"""Problems the corrections domain answers with."""

from __future__ import annotations

from services.common.problems import Conflict, NotFound
from services.identity.persons.errors import Id1Conflict


class CorrectionNotFound(NotFound):
    title = "Correction case not found"
    type_slug = "identity/correction-not-found"
    code = "identity.correction_not_found"


class CorrectionAlreadyDecided(Conflict):
    title = "Correction case already decided"
    type_slug = "identity/correction-decided"
    code = "identity.correction_decided"


class CorrectionMatchesAnotherPerson(Id1Conflict):
    """SG-ID-1: a correction must not quietly turn a record into a duplicate of someone else's."""

    title = "The corrected record would match another enrolled person"
    type_slug = "identity/correction-matches-person"
    code = "identity.correction_matches_person"

    def __init__(self, *, matching_person_ids: list[str]) -> None:
        super().__init__(
            "With this correction the record would match other enrolled people by name and date of birth. Check "
            "that they are different people, then approve again with confirmed_distinct, or reject the correction.",
            matching_person_ids=matching_person_ids,
        )
