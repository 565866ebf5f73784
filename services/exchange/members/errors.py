"""Problems the directory answers with; each `code` is stable once published."""

from __future__ import annotations

from services.common.problems import Conflict, InvalidInput, NotFound


class MemberNotFound(NotFound):
    title = "No such member"
    type_slug = "exchange/member-not-found"
    code = "exchange.member_not_found"


class SubsystemNotFound(NotFound):
    title = "No such subsystem"
    type_slug = "exchange/subsystem-not-found"
    code = "exchange.subsystem_not_found"


class ServiceNotFound(NotFound):
    title = "No such service"
    type_slug = "exchange/service-not-found"
    code = "exchange.service_not_found"


class AccessRightNotFound(NotFound):
    title = "No such access right"
    type_slug = "exchange/access-right-not-found"
    code = "exchange.access_right_not_found"


class AlreadyRegistered(Conflict):
    title = "Already registered"
    type_slug = "exchange/already-registered"
    code = "exchange.already_registered"


class InvalidDirectoryEntry(InvalidInput):
    """Well-formed but inconsistent: an access right to fields the service does not have, an unknown member."""

    title = "Invalid directory entry"
    type_slug = "exchange/invalid-directory-entry"
    code = "exchange.invalid_directory_entry"
