"""Problems the persons domain answers with; each `code` is stable once published."""

from __future__ import annotations

from typing import Any

from services.common import idempotency
from services.common.problems import Conflict, InvalidInput, NotFound, ServiceUnavailable


class Id1Conflict(Conflict):
    """A conflict under SG-ID-1 (one person, one identity): every such answer names the rule and its sources."""

    rule_id = "SG-ID-1"


class DuplicateSuspected(Id1Conflict):
    """SG-ID-1: a suspected duplicate goes to a human adjudicator; it is held, never silently rejected (the held
    enrolment and its case commit before this 409 is answered)."""

    title = "Possible duplicate enrolment held for adjudication"
    type_slug = "identity/duplicate-suspected"
    code = "identity.duplicate_suspected"
    commit_before_raise = True

    def __init__(self, *, person_id: str, adjudication_case_id: str) -> None:
        super().__init__(
            "This enrolment matches a person already enrolled. It is held, not rejected: an adjudicator will decide "
            "whether it is the same person, and a UIN is issued if not. Quote the case id in any grievance.",
            person_id=person_id,
            adjudication_case_id=adjudication_case_id,
            adjudication_case=f"/v1/adjudication-cases/{adjudication_case_id}",
        )


class IdempotencyKeyReused(idempotency.IdempotencyKeyReused):
    """Identity published these types before the common store existed; it keeps them (services.common.idempotency)."""

    type_slug = "identity/idempotency-key-reused"
    code = "identity.idempotency_key_reused"


class IdempotencyInProgress(idempotency.IdempotencyInProgress):
    type_slug = "identity/idempotency-in-progress"
    code = "identity.idempotency_in_progress"


class InvalidPersonalData(InvalidInput):
    """Input that is well-formed but impossible, e.g. a date of birth in the future."""

    title = "Invalid personal data"
    type_slug = "identity/invalid-personal-data"
    code = "identity.invalid_personal_data"

    def __init__(self, field: str, message: str, *, loc_prefix: tuple[str, ...] = ("body",), **extensions: Any):
        super().__init__(
            f"The request is not valid: {field}: {message}",
            errors=[{"loc": [*loc_prefix, field], "msg": message, "type": "value_error"}],
            **extensions,
        )


class PersonNotFound(NotFound):
    title = "Person not found"
    type_slug = "identity/person-not-found"
    code = "identity.person_not_found"


class SubjectNotFound(NotFound):
    """No person with an issued UIN has this internal subject reference."""

    title = "Subject not found"
    type_slug = "identity/subject-not-found"
    code = "identity.subject_not_found"


class UinIssuanceFailed(ServiceUnavailable):
    title = "No free UIN found; retry"
    type_slug = "identity/uin-issuance-failed"
    code = "identity.uin_issuance_failed"
