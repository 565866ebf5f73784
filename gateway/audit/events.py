"""What the gateway records for every decision, permit or deny: metadata only, never a payload.

`AuditEvent` is what a caller hands to `app.state.audit.append(event)`; the log answers with `AppendedEvent` (the
event id and the leaf index) once the batch holding the event is committed. The stored leaf is the RFC 8785
canonical encoding of `{"index": n, "record": {...}}` (see `encode_leaf`).
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import c_make_encoder, encode_basestring  # type: ignore[attr-defined]
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from services.common.clock import Instant

LEAF_PREFIX = b'{"index":'
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _printable(value: str) -> str:
    if _CONTROL.search(value):
        raise ValueError("control characters are not allowed")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as error:  # lone surrogates cannot be stored or canonically encoded
        raise ValueError("not valid Unicode text") from error
    return value


Text = Annotated[str, StringConstraints(min_length=1, max_length=256), AfterValidator(_printable)]
Name = Annotated[str, StringConstraints(min_length=1, max_length=128), AfterValidator(_printable)]
Decision = Literal["permit", "deny"]


class AuditEvent(BaseModel):
    """One decision of the gateway (or a service), as it enters the audit log."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: Name | None = Field(
        default=None,
        description="Allocated by the caller before the decision takes effect (the gateway names it in the "
        "assertion and in a denial); the log allocates one when absent.",
    )
    decision: Decision
    actor: Name = Field(description="The client id of whoever made the call.")
    actor_type: Name = Field(description="organisation, citizen, operator, auditor, law_enforcement, ...")
    sub: Name | None = Field(default=None, description="The internal subject reference of the person concerned.")
    action: Text = Field(description="Method and gateway route template, e.g. `GET /v1/persons/{sub}`.")
    purpose: Name | None = None
    legal_basis: Name | None = None
    consent_id: Name | None = None
    court_order_id: Name | None = None
    fields_returned: tuple[Name, ...] = Field(default=(), max_length=200)
    rule_ids: tuple[Name, ...] = Field(default=(), max_length=100, description="Rules that decided (SG-...).")
    channel: Name | None = None
    assisted_by: Name | None = None
    confirmation: Name | None = Field(
        default=None,
        description="On the assisted and text-only channels: how the person confirmed the action taken for them (the "
        "factor and the identity service's auth transaction id, e.g. `otp:ath_...`).",
    )
    disclose_after: Instant | None = Field(
        default=None, description="Court-ordered deferral (SG-ACCESS-2): withheld from the subject until then."
    )
    dry_run: bool = False
    status: int | None = Field(default=None, ge=100, le=599, description="The HTTP status the caller received.")
    request_id: Name | None = None
    time: Instant | None = Field(default=None, description="When it happened; the log's clock if not given.")

    def record(self, event_id: str, time: datetime) -> dict[str, Any]:
        """The JSON object that goes into the leaf (all fields, nulls included, so every leaf has one shape)."""
        values = dict(self.__dict__)  # the validated fields (a model_dump without its per-field machinery)
        values["time"] = _timestamp(self.time or time)
        values["disclose_after"] = None if self.disclose_after is None else _timestamp(self.disclose_after)
        values["fields_returned"] = list(self.fields_returned)
        values["rule_ids"] = list(self.rule_ids)
        values["event_id"] = event_id
        return values


@dataclass(frozen=True, slots=True)
class AppendedEvent:
    """Where an event landed: its id and its leaf index in the log (0-based, gap-free)."""

    event_id: str
    index: int


def _timestamp(value: datetime) -> str:
    """`2026-01-01T00:00:00.000000Z`: the UTC time to the microsecond (what `isoformat` writes, formatted directly:
    it runs once or twice for every append)."""
    if value.tzinfo is not UTC:
        if value.tzinfo is None:
            raise ValueError("audit times must be timezone-aware")
        value = value.astimezone(UTC)
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031 - the fastest formatting of seven integers
        value.year, value.month, value.day, value.hour, value.minute, value.second, value.microsecond
    )  # fmt: skip


def parse_timestamp(value: str) -> datetime:
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _make_encoder() -> Callable[[dict[str, Any]], str]:
    """`json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)` with the encoder built once:
    `json.dumps` with options builds a `JSONEncoder` and then its C encoder on every call, a third of its cost on a
    record this small. The same C encoder, so the same bytes; the standard call where CPython has none."""
    options: dict[str, Any] = {"sort_keys": True, "separators": (",", ":"), "ensure_ascii": False}
    if c_make_encoder is None:  # pragma: no cover - CPython has it
        return functools.partial(json.dumps, **options)
    encoder = json.JSONEncoder(**options)
    # What JSONEncoder.iterencode passes it for these options, less the circular-reference markers: a record is a
    # flat dict built here, and markers shared between calls would outlive an encoding that failed.
    chunks = c_make_encoder(None, encoder.default, encode_basestring, None, ":", ",", True, False, encoder.allow_nan)

    def encode(record: dict[str, Any]) -> str:
        return "".join(chunks(record, 0))

    return encode


_encode = _make_encoder()


def encode_record(record: dict[str, Any]) -> bytes:
    """The canonical (RFC 8785) bytes of a record; see `encode_leaf`."""
    return _encode(record).encode("utf-8")


# The record's keys in canonical (sorted) order, and the record as one format string: `encode_event` fills it in.
_RECORD_KEYS = (
    "action", "actor", "actor_type", "assisted_by", "channel", "confirmation", "consent_id", "court_order_id",
    "decision", "disclose_after", "dry_run", "event_id", "fields_returned", "legal_basis", "purpose", "request_id",
    "rule_ids", "status", "sub", "time",
)  # fmt: skip
if list(_RECORD_KEYS) != sorted(AuditEvent.model_fields):  # pragma: no cover - a new field needs its place below
    raise RuntimeError("encode_event does not know every AuditEvent field")
_RECORD_FORMAT = "{" + ",".join(f'"{key}":%s' for key in _RECORD_KEYS) + "}"


def _strings(values: tuple[str, ...]) -> str:
    return "[" + ",".join(map(encode_basestring, values)) + "]"


def encode_event(event: AuditEvent, event_id: str, time: datetime) -> bytes:
    """`encode_record(event.record(event_id, time))`, written out: the append path runs this for every event, and
    filling one format string with each value's JSON costs half what building the record dict and encoding it with
    sorted keys does. The same bytes (tests/gateway/audit compares the two, and both with `rfc8785`, on arbitrary
    events): strings through the standard library's own C string encoder, keys in `_RECORD_KEYS` order."""
    s = encode_basestring
    v = event.__dict__  # the validated fields
    status, disclose_after = v["status"], v["disclose_after"]
    return (
        _RECORD_FORMAT
        % (
            s(v["action"]),
            s(v["actor"]),
            s(v["actor_type"]),
            "null" if v["assisted_by"] is None else s(v["assisted_by"]),
            "null" if v["channel"] is None else s(v["channel"]),
            "null" if v["confirmation"] is None else s(v["confirmation"]),
            "null" if v["consent_id"] is None else s(v["consent_id"]),
            "null" if v["court_order_id"] is None else s(v["court_order_id"]),
            s(v["decision"]),
            "null" if disclose_after is None else '"' + _timestamp(disclose_after) + '"',
            "true" if v["dry_run"] else "false",
            s(event_id),
            _strings(v["fields_returned"]),
            "null" if v["legal_basis"] is None else s(v["legal_basis"]),
            "null" if v["purpose"] is None else s(v["purpose"]),
            "null" if v["request_id"] is None else s(v["request_id"]),
            _strings(v["rule_ids"]),
            "null" if status is None else "%d" % status,  # noqa: UP031
            "null" if v["sub"] is None else s(v["sub"]),
            '"' + _timestamp(v["time"] or time) + '"',
        )
    ).encode("utf-8")


def leaf_from_record(index: int, encoded_record: bytes) -> bytes:
    """`encode_leaf(index, record)` from the record's canonical bytes: with keys sorted, `index` precedes `record`,
    so the leaf is the index, then the record's bytes. Lets the record be encoded before its index is known."""
    return b'{"index":%d,"record":%b}' % (index, encoded_record)


def encode_leaf(index: int, record: dict[str, Any]) -> bytes:
    """The canonical (RFC 8785) bytes of one leaf.

    For this shape (ASCII keys; strings, integers, booleans, null and lists of strings; no floats) the standard
    library's sorted, compact, non-ASCII-preserving output is exactly RFC 8785, and five times faster than the
    general `rfc8785` encoder on the append path; tests/gateway/audit proves the two agree on arbitrary events, and
    the offline verifier's deep check re-encodes every leaf with `rfc8785` itself. The index comes first (keys
    sort), so a verifier reads it without parsing the leaf.
    """
    return json.dumps(
        {"index": index, "record": record}, sort_keys=True, separators=(",", ":"), ensure_ascii=False
    ).encode("utf-8")


def leaf_index(leaf: bytes) -> int | None:
    """The index a leaf claims, read from its canonical prefix; None if the leaf does not start as one does."""
    if not leaf.startswith(LEAF_PREFIX):
        return None
    end = leaf.find(b",", len(LEAF_PREFIX))
    digits = leaf[len(LEAF_PREFIX) : end]
    if end < 0 or not digits.isdigit() or (len(digits) > 1 and digits[:1] == b"0"):
        return None
    return int(digits)
