"""Problems of stored payloads."""

from __future__ import annotations

from services.common.problems import NotFound, ProblemError


class StoredPayloadNotFound(NotFound):
    title = "No such stored payload"
    type_slug = "exchange/stored-payload-not-found"
    code = "exchange.stored_payload_not_found"


class PayloadPurged(ProblemError):
    """SG-RETAIN-1: the payload's retention ended and it was deleted; its disposition is on record."""

    status = 410
    title = "The stored payload was purged"
    type_slug = "exchange/payload-purged"
    code = "exchange.payload_purged"
    rule_id = "SG-RETAIN-1"
