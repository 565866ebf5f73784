"""Problems the settlement domain answers with."""

from __future__ import annotations

from services.common.problems import Conflict, NotFound


class WindowNotFound(NotFound):
    title = "Settlement window not found"
    type_slug = "payments/window-not-found"
    code = "payments.window_not_found"


class WindowNotClosed(Conflict):
    title = "The window is not closed"
    type_slug = "payments/window-not-closed"
    code = "payments.window_not_closed"
