"""Problems the bulk domain answers with."""

from __future__ import annotations

from services.common.problems import Conflict, InvalidInput, NotFound, ProblemError


class BatchNotFound(NotFound):
    title = "Batch not found"
    type_slug = "payments/batch-not-found"
    code = "payments.batch_not_found"


class DuplicateBatch(Conflict):
    title = "This batch was submitted before"
    type_slug = "payments/duplicate-batch"
    code = "payments.duplicate_batch"


class InvalidBatch(InvalidInput):
    title = "The batch is not valid"
    type_slug = "payments/invalid-batch"
    code = "payments.invalid_batch"


class InvalidPain001(InvalidInput):
    title = "The pain.001 file is not valid"
    type_slug = "payments/invalid-pain001"
    code = "payments.invalid_pain001"


class BatchTooLarge(ProblemError):
    status = 413
    title = "Batch too large"
    type_slug = "payments/batch-too-large"
    code = "payments.batch_too_large"


class BatchNotComplete(Conflict):
    title = "The batch is still running"
    type_slug = "payments/batch-not-complete"
    code = "payments.batch_not_complete"
