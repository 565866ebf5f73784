"""Problems of the client registry."""

from __future__ import annotations

from services.common.problems import Conflict, InvalidInput, NotFound


class ClientNotFound(NotFound):
    title = "No registered client with this client_id"
    type_slug = "gateway/client-not-found"
    code = "gateway.client_not_found"


class ClientExists(Conflict):
    title = "A client with this client_id is already registered"
    type_slug = "gateway/client-exists"
    code = "gateway.client_exists"


class InvalidClientRegistration(InvalidInput):
    title = "Invalid client registration"
    type_slug = "gateway/invalid-client-registration"
    code = "gateway.invalid_client_registration"


class ClientStatusConflict(Conflict):
    title = "The client is not in a state that allows this change"
    type_slug = "gateway/client-status-conflict"
    code = "gateway.client_status_conflict"
