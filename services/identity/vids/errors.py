"""Problems the VID domain answers with."""

from __future__ import annotations

from services.common.problems import Conflict, InvalidInput, NotFound, ServiceUnavailable


class VidNotFound(NotFound):
    title = "VID not found"
    type_slug = "identity/vid-not-found"
    code = "identity.vid_not_found"


class VidLimitReached(Conflict):
    title = "Too many active VIDs"
    type_slug = "identity/vid-limit-reached"
    code = "identity.vid_limit_reached"


class VidValidityTooLong(InvalidInput):
    title = "VID validity too long"
    type_slug = "identity/vid-validity-too-long"
    code = "identity.vid_validity_too_long"


class VidIssuanceFailed(ServiceUnavailable):
    title = "No free VID found; retry"
    type_slug = "identity/vid-issuance-failed"
    code = "identity.vid_issuance_failed"
