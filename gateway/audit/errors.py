"""Problems the audit API answers with."""

from __future__ import annotations

from services.common.problems import InvalidInput, NotFound, ProblemError


class AuditEntryNotFound(NotFound):
    title = "Audit entry not found"
    type_slug = "audit/entry-not-found"
    code = "audit.entry_not_found"


class ProofUnavailable(InvalidInput):
    title = "No such proof"
    type_slug = "audit/proof-unavailable"
    code = "audit.proof_unavailable"


class CheckpointNotFound(NotFound):
    title = "Checkpoint not found"
    type_slug = "audit/checkpoint-not-found"
    code = "audit.checkpoint_not_found"


class AppendOnly(ProblemError):
    status = 405
    title = "The audit log is append-only"
    type_slug = "audit/append-only"
    code = "audit.append_only"
