from __future__ import annotations

from services.common.problems import Conflict, NotFound


class GrievanceNotFound(NotFound):
    title = "No such grievance"
    type_slug = "gateway/grievance-not-found"
    code = "gateway.grievance_not_found"


class GrievanceTransitionRefused(Conflict):
    title = "The grievance cannot move to that state"
    type_slug = "gateway/grievance-transition"
    code = "gateway.grievance_transition_refused"
