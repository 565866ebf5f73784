"""The identity service's tables: its own metadata, its own database.

Importing this module makes `metadata` complete (every domain's tables joined) for migrations, the app and tests;
domains import `Base` from `services.identity.base`, never from here.
"""

from __future__ import annotations

import services.identity.adjudication.models
import services.identity.authn.models
import services.identity.corrections.models
import services.identity.credentials.models
import services.identity.exceptions.models
import services.identity.notifications.models
import services.identity.oidc.models
import services.identity.persons.models
import services.identity.tokens.models
import services.identity.vids.models  # noqa: F401
from services.identity.base import Base, idempotency_records, metadata, outbox, seen_assertions

__all__ = ["Base", "idempotency_records", "metadata", "outbox", "seen_assertions"]
