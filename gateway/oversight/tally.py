"""Counts read from the audit log for the public statistics (SG-TRANSP-1): decisions per rule and requests per
channel. Each process keeps running totals and reads only the entries appended since it last looked, so a
statistics request costs the new entries, not the whole log; every process reads the same log, so all agree."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from gateway.audit.models import AUDIT_TABLES
from gateway.audit.repository import AuditRepository

CHUNK = 2000
# The exception path (SG-INCL-1): a person without a foundational ID identified by alternative evidence.
EXCEPTION_PATH_ACTIONS = frozenset({"POST /identity/v1/identity-exceptions"})
CHANNEL_OUTCOMES = ["completed", "exception_path", "denied"]


def is_request(record: dict[str, Any]) -> bool:
    """A caller's request (not a dry run, not the gateway's own bookkeeping such as a notice sent)."""
    return not record.get("dry_run") and record.get("actor_type") != "gateway"


def channel_outcome(record: dict[str, Any]) -> str:
    if record.get("decision") == "deny":
        return "denied"
    if record.get("action") in EXCEPTION_PATH_ACTIONS or "SG-INCL-1" in (record.get("rule_ids") or ()):
        return "exception_path"
    return "completed"


class AuditTally:
    def __init__(self, engine: AsyncEngine) -> None:
        self._engine = engine
        self._lock = asyncio.Lock()
        self.next_index = 0
        self.by_rule: dict[str, Counter[str]] = {}
        self.by_channel: dict[str, Counter[str]] = {}

    async def refresh(self) -> None:
        """Read what was appended since the last look."""
        async with self._lock:
            while True:
                async with self._engine.connect() as conn:
                    entries = await AuditRepository(conn, AUDIT_TABLES).entry_chunk(
                        self.next_index, self.next_index + CHUNK, CHUNK
                    )
                for entry in entries:
                    self.add(json.loads(entry.leaf)["record"])
                if entries:
                    self.next_index = entries[-1].index + 1
                if len(entries) < CHUNK:
                    return

    def add(self, record: dict[str, Any]) -> None:
        if not is_request(record):
            return
        outcome = "denied" if record.get("decision") == "deny" else "permitted"
        for rule_id in record.get("rule_ids") or ():
            self.by_rule.setdefault(rule_id, Counter())[outcome] += 1
        channel = record.get("channel") or "unstated"
        self.by_channel.setdefault(channel, Counter())[channel_outcome(record)] += 1
