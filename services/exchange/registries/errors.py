"""Problems the simulated registries answer with."""

from __future__ import annotations

from services.common.problems import Conflict, InvalidInput, NotFound


class RecordNotFound(NotFound):
    title = "No record for this subject"
    type_slug = "exchange/record-not-found"
    code = "exchange.record_not_found"


class RegistrationConflict(Conflict):
    title = "Registration conflicts with the register"
    type_slug = "exchange/registration-conflict"
    code = "exchange.registration_conflict"


class InvalidRegistration(InvalidInput):
    title = "Invalid registration"
    type_slug = "exchange/invalid-registration"
    code = "exchange.invalid_registration"
