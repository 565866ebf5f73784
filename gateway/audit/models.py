"""The audit log's tables in the gateway's own database.

`audit_events` holds one row per leaf: the canonical leaf bytes, the leaf hash and the interior hashes that leaf
completed (the perfect subtrees of 2, 4, 8... leaves ending there), so any proof reads O(log n) rows. The search
columns repeat what the leaf says. `audit_tree_head` is one row, locked by every batch: that lock is how several
gateway processes agree on the next index. Stored events and checkpoints refuse UPDATE and DELETE at the database
(triggers on SQLite and PostgreSQL): the log has no update path at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    DDL,
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    event,
)

from gateway.db import metadata
from services.common.db import UTCDateTime

APPEND_ONLY = ("audit_events", "audit_event_rules", "audit_checkpoints", "audit_cosignatures", "audit_refusals")


@dataclass(frozen=True)
class AuditTables:
    events: Table
    rules: Table
    head: Table
    checkpoints: Table
    cosignatures: Table
    refusals: Table
    witness_state: Table


def audit_tables(metadata: MetaData) -> AuditTables:
    events = Table(
        "audit_events",
        metadata,
        Column("idx", BigInteger, primary_key=True, autoincrement=False),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("leaf", LargeBinary, nullable=False),
        Column("leaf_hash", LargeBinary(32), nullable=False),
        Column("nodes", LargeBinary, nullable=False),
        Column("time", UTCDateTime, nullable=False),
        Column("sub", String(128), nullable=True),
        Column("actor", String(128), nullable=False),
        Column("action", String(256), nullable=False),
        Column("decision", String(8), nullable=False),
        Column("disclose_after", UTCDateTime, nullable=True),
        Index("ix_audit_events_sub_idx", "sub", "idx"),
        Index("ix_audit_events_actor_idx", "actor", "idx"),
        Index("ix_audit_events_action_idx", "action", "idx"),
        Index("ix_audit_events_time", "time"),
    )
    rules = Table(
        "audit_event_rules",
        metadata,
        Column("rule_id", String(128), nullable=False),
        Column("idx", BigInteger, nullable=False),
        PrimaryKeyConstraint("rule_id", "idx"),
    )
    head = Table(
        "audit_tree_head",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=False),
        Column("size", BigInteger, nullable=False),
        Column("root", LargeBinary(32), nullable=False),
        Column("frontier", LargeBinary, nullable=False),
    )
    checkpoints = Table(
        "audit_checkpoints",
        metadata,
        Column("size", BigInteger, primary_key=True, autoincrement=False),
        Column("root", LargeBinary(32), nullable=False),
        Column("note", Text, nullable=False),
        Column("published_at", UTCDateTime, nullable=False),
    )
    cosignatures = Table(
        "audit_cosignatures",
        metadata,
        Column("witness", String(128), nullable=False),
        Column("size", BigInteger, nullable=False),
        Column("signature", Text, nullable=False),
        Column("signed_at", UTCDateTime, nullable=False),
        PrimaryKeyConstraint("witness", "size"),
    )
    refusals = Table(
        "audit_refusals",
        metadata,
        Column("id", String(64), primary_key=True),
        Column("witness", String(128), nullable=False),
        Column("size", BigInteger, nullable=False),
        Column("note", Text, nullable=False),
        Column("reason", Text, nullable=False),
        Column("refused_at", UTCDateTime, nullable=False, index=True),
    )
    witness_state = Table(
        "audit_witness_state",
        metadata,
        Column("witness", String(128), primary_key=True),
        Column("size", BigInteger, nullable=False),
        Column("root", LargeBinary(32), nullable=False),
        Column("note", Text, nullable=False),
    )
    for table in (events, rules, checkpoints, cosignatures, refusals):
        _refuse_changes(table)
    return AuditTables(events, rules, head, checkpoints, cosignatures, refusals, witness_state)


def append_only_ddl(dialect: str, table: str) -> list[str]:
    """The statements that make `table` refuse UPDATE and DELETE (and TRUNCATE on PostgreSQL)."""
    if dialect == "sqlite":
        return [
            f"CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
            f"CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table} "
            f"BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END",
        ]
    return [
        "CREATE OR REPLACE FUNCTION audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
        "RAISE EXCEPTION USING MESSAGE = TG_TABLE_NAME || ' is append-only', ERRCODE = 'insufficient_privilege'; "
        "END $$",
        f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
        "FOR EACH ROW EXECUTE FUNCTION audit_refuse_change()",
        f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_refuse_change()",
    ]


def _refuse_changes(table: Table) -> None:
    for dialect in ("sqlite", "postgresql"):
        for statement in append_only_ddl(dialect, table.name):
            event.listen(table, "after_create", DDL(statement).execute_if(dialect=dialect))  # type: ignore[no-untyped-call]


AUDIT_TABLES = audit_tables(metadata)  # in the gateway's own database, beside its other tables
