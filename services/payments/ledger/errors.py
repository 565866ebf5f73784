"""Problems the ledger answers with."""

from __future__ import annotations

from services.common.problems import Conflict, InvalidInput, NotFound


class AccountNotFound(NotFound):
    title = "Account not found"
    type_slug = "payments/account-not-found"
    code = "payments.account_not_found"


class ParticipantNotFound(NotFound):
    title = "Participant not found"
    type_slug = "payments/participant-not-found"
    code = "payments.participant_not_found"


class PostingNotFound(NotFound):
    title = "Posting not found"
    type_slug = "payments/posting-not-found"
    code = "payments.posting_not_found"


class ParticipantExists(Conflict):
    title = "Participant already exists"
    type_slug = "payments/participant-exists"
    code = "payments.participant_exists"


class AccountExists(Conflict):
    title = "Account already exists"
    type_slug = "payments/account-exists"
    code = "payments.account_exists"


class InsufficientFunds(Conflict):
    title = "Insufficient funds"
    type_slug = "payments/insufficient-funds"
    code = "payments.insufficient_funds"


class AccountClosed(Conflict):
    title = "Account closed"
    type_slug = "payments/account-closed"
    code = "payments.account_closed"


class PostingConflict(Conflict):
    title = "A posting with this id exists with other values"
    type_slug = "payments/posting-conflict"
    code = "payments.posting_conflict"


class PostingNotPending(Conflict):
    title = "The posting is not pending"
    type_slug = "payments/posting-not-pending"
    code = "payments.posting_not_pending"


class CurrencyMismatch(InvalidInput):
    title = "Accounts hold different currencies"
    type_slug = "payments/currency-mismatch"
    code = "payments.currency_mismatch"
