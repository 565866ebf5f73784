"""Resolution failures: 401, because a presented reference that does not resolve does not authenticate anyone.

The gateway passes these through unchanged, which is the answer SG-TOKEN-1 asks for ("a revoked VID → 401").
"""

from __future__ import annotations

from services.common.problems import ProblemError


class ReferenceNotResolved(ProblemError):
    status = 401
    title = "The presented reference does not identify anyone"
    type_slug = "identity/reference-unknown"
    code = "identity.reference_unknown"
    rule_id = "SG-TOKEN-1"


class VidRevoked(ReferenceNotResolved):
    title = "The VID was revoked"
    type_slug = "identity/vid-revoked"
    code = "identity.vid_revoked"


class VidExpired(ReferenceNotResolved):
    title = "The VID has expired"
    type_slug = "identity/vid-expired"
    code = "identity.vid_expired"
