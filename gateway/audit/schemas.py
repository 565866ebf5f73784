"""Wire shapes of the audit API and the subject view."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("text may not contain the NUL character")
    return value


class AuditEntry(BaseModel):
    """A stored event as an auditor (or its subject) sees it: the canonical leaf and what it says."""

    index: int = Field(description="Leaf index in the log (0-based).")
    event_id: str
    record: dict[str, Any] = Field(description="The event as recorded: metadata only, never a payload.")
    leaf: str = Field(description="The canonical (RFC 8785) leaf; its RFC 6962 leaf hash is SHA-256(0x00 || leaf).")


class ProvedEntry(AuditEntry):
    inclusion_proof: list[str] = Field(description="Base64 audit path to the root of `tree_size`.")
    tree_size: int


class EntryPage(BaseModel):
    items: list[AuditEntry]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next (older) page; null at the end.")


class CheckpointView(BaseModel):
    size: int
    root_hash: str = Field(description="Base64 RFC 6962 root hash.")
    note: str = Field(description="The C2SP signed note: checkpoint text, log signature and witness cosignatures.")
    log_key: str = Field(description="The log's verifier key (name+hash+base64 Ed25519 key).")


class InclusionProofView(BaseModel):
    index: int
    tree_size: int
    leaf_hash: str
    proof: list[str]


class ConsistencyProofView(BaseModel):
    old_size: int
    new_size: int
    proof: list[str]


class SubjectAccessLog(BaseModel):
    """A person's view of who touched their data, each entry with its inclusion proof (SG-ACCESS-1/2)."""

    entries: list[ProvedEntry]
    withheld: int = Field(
        description="Entries in the log about this person that are deferred by a court order and not shown yet."
    )
    checkpoint: CheckpointView


class WitnessRefusal(BaseModel):
    id: str
    witness: str
    size: int
    reason: str
    note: str
    refused_at: str


class CosignatureSubmission(BaseModel):
    """A witness's verdict on a checkpoint: its cosignature line, or why it refused."""

    model_config = ConfigDict(extra="forbid")

    witness: Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[^\s+]+$")] = Field(
        description="The witness's key name."
    )
    size: int = Field(ge=0, le=2**62)
    note: Annotated[str, StringConstraints(min_length=1, max_length=20000), AfterValidator(_no_nul)] = Field(
        description="The checkpoint note the witness judged."
    )
    cosignature: Annotated[str, StringConstraints(max_length=500), AfterValidator(_no_nul)] | None = None
    refusal: Annotated[str, StringConstraints(max_length=2000), AfterValidator(_no_nul)] | None = None


class VerificationView(BaseModel):
    ok: bool
    entries: int
    checkpoints: int
    cosignatures: int
    first_bad_position: int | None
    problems: list[str]
