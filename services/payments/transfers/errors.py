"""Problems the transfers domain answers with."""

from __future__ import annotations

from services.common.problems import Conflict, InvalidInput, NotFound


class QuoteNotFound(NotFound):
    title = "Quote not found"
    type_slug = "payments/quote-not-found"
    code = "payments.quote_not_found"


class QuoteExpired(Conflict):
    title = "Quote expired"
    type_slug = "payments/quote-expired"
    code = "payments.quote_expired"


class QuoteMismatch(InvalidInput):
    title = "The transfer does not match its quote"
    type_slug = "payments/quote-mismatch"
    code = "payments.quote_mismatch"


class PartyNotFound(NotFound):
    title = "Party not found"
    type_slug = "payments/party-not-found"
    code = "payments.party_not_found"


class TransferNotFound(NotFound):
    title = "Transfer not found"
    type_slug = "payments/transfer-not-found"
    code = "payments.transfer_not_found"


class DuplicateWithOtherValues(Conflict):
    """Mojaloop's "already exists with conflicting parameters": same id, another body."""

    title = "Already exists with other values"
    type_slug = "payments/duplicate-with-other-values"
    code = "payments.duplicate_with_other_values"


class InvalidFulfilment(InvalidInput):
    title = "The fulfilment does not match the condition"
    type_slug = "payments/invalid-fulfilment"
    code = "payments.invalid_fulfilment"


class TransferNotReserved(Conflict):
    title = "The transfer is no longer reserved"
    type_slug = "payments/transfer-not-reserved"
    code = "payments.transfer_not_reserved"


class TransferExpired(Conflict):
    title = "The transfer expired"
    type_slug = "payments/transfer-expired"
    code = "payments.transfer_expired"
    # The expiry found on the way is recorded (reservation released, event raised) before the refusal is answered.
    commit_before_raise = True


class SameAccount(InvalidInput):
    title = "Payer and payee are the same account"
    type_slug = "payments/same-account"
    code = "payments.same_account"


class CreditFailed(Conflict):
    title = "The payee account refused the credit"
    type_slug = "payments/credit-failed"
    code = "payments.credit_failed"
    rule_id = "SG-GRIEV-4"
    # The reversal (reservation released, signed record, payee notified) is kept before the refusal is answered.
    commit_before_raise = True
