"""Problems the records domain answers with."""

from __future__ import annotations

from services.common.problems import NotFound


class TransactionNotFound(NotFound):
    title = "No signed record of this transaction"
    type_slug = "payments/transaction-not-found"
    code = "payments.transaction_not_found"
    rule_id = "SG-GRIEV-4"


class DisputeNotFound(NotFound):
    title = "Dispute not found"
    type_slug = "payments/dispute-not-found"
    code = "payments.dispute_not_found"
