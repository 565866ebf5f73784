"""Sortable unique ids (UUIDv7): time-ordered, so indexes stay append-friendly and ids sort by creation."""

from __future__ import annotations

import re
import uuid

import uuid_utils

# The sandbox's own id formats, as they appear in bodies, paths and logs: `new_id` (32 hex digits, optionally after
# a short prefix: `per_0196...`), UUIDs in their canonical dashed form, and person references. Their characters
# often hold long runs of decimal digits, which a scan for UINs or phone numbers must not take for personal data.
GENERATED_ID = re.compile(r"(?:[a-z][a-z0-9]{0,11}_)?[0-9a-f]{32}")
DASHED_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)
# Person references every service handles: identity's internal `sub` and pairwise tokens (26 base32 characters).
PERSON_REFERENCE = re.compile(r"(?:sub|tok)_[a-z2-7]{26}")
OWN_ID = re.compile(
    rf"(?<![0-9A-Za-z])(?:{GENERATED_ID.pattern}|{DASHED_UUID.pattern}|{PERSON_REFERENCE.pattern})(?![0-9A-Za-z])",
    re.IGNORECASE,
)


def new_uuid() -> uuid.UUID:
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)


def new_id(prefix: str = "") -> str:
    """A UUIDv7 as a string, optionally prefixed (`evt_0196...`) so a reader can tell ids apart."""
    value = uuid_utils.uuid7().hex
    return f"{prefix}_{value}" if prefix else value
