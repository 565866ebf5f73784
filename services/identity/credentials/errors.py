"""Problems of the offline credentials."""

from __future__ import annotations

from services.common.problems import Conflict, NotFound, ServiceUnavailable


class OfflineCredentialNotFound(NotFound):
    """No offline credential of the caller's has this id (another person's is not found either)."""

    title = "Offline credential not found"
    type_slug = "identity/offline-credential-not-found"
    code = "identity.offline_credential_not_found"


class StatusListFull(ServiceUnavailable):
    """No free entry was found in the status list: it needs to be larger (`offline_status_list_size`)."""

    title = "No status list entry is free for a new offline credential"
    type_slug = "identity/status-list-full"
    code = "identity.status_list_full"


class OfflineCredentialRefused(Conflict):
    """The record holds something an offline credential may never carry (a name written with a UIN-shaped number,
    enrolled before names were checked for one): a registrar corrects the name first."""

    title = "No offline credential can be issued for this record as it stands"
    type_slug = "identity/offline-credential-refused"
    code = "identity.offline_credential_refused"
