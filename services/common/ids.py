"""Sortable unique ids (UUIDv7): time-ordered, so indexes stay append-friendly and ids sort by creation."""

from __future__ import annotations

import uuid

import uuid_utils


def new_uuid() -> uuid.UUID:
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)


def new_id(prefix: str = "") -> str:
    """A UUIDv7 as a string, optionally prefixed (`evt_0196...`) so a reader can tell ids apart."""
    value = uuid_utils.uuid7().hex
    return f"{prefix}_{value}" if prefix else value
