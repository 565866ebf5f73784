"""Problems the mapper answers with."""

from __future__ import annotations

from services.common.problems import Conflict, NotFound


class LinkNotFound(NotFound):
    title = "Link not found"
    type_slug = "payments/link-not-found"
    code = "payments.link_not_found"


class LinkExists(Conflict):
    title = "This account is already linked"
    type_slug = "payments/link-exists"
    code = "payments.link_exists"


class NotAccountHolder(Conflict):
    title = "The account belongs to someone else"
    type_slug = "payments/not-account-holder"
    code = "payments.not_account_holder"


class Unresolvable(NotFound):
    title = "No payment address for this person"
    type_slug = "payments/unresolvable"
    code = "payments.unresolvable"
