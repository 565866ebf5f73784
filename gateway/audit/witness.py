"""Witnesses: check that each new checkpoint extends the last one they saw, and co-sign it; refuse a rewrite.

`Witness.observe` is the whole decision, shared by the in-sandbox witness (state in the gateway's database, run
after every published checkpoint) and `dpi-sandbox audit witness` (state in a file, talking to the gateway's
`/audit` API over HTTP). A refused checkpoint is recorded where auditors read it (`GET /audit/witness/refusals`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from gateway.audit.merkle import verify_consistency
from gateway.audit.note import Checkpoint, NoteError, NoteSigner, VerifierKey, open_note


@dataclass(frozen=True)
class WitnessState:
    """The last checkpoint a witness co-signed."""

    size: int
    root: bytes
    note: str


@dataclass(frozen=True)
class Verdict:
    checkpoint: Checkpoint | None
    cosignature: str | None = None  # the signature line to add to the checkpoint note
    refusal: str | None = None  # why the checkpoint was refused
    stale: bool = False  # an older checkpoint, proved a prefix of the co-signed one: nothing to sign, nothing wrong

    @property
    def accepted(self) -> bool:
        return self.cosignature is not None


class Witness:
    def __init__(self, signer: NoteSigner, log_key: VerifierKey, origin: str) -> None:
        self.signer = signer
        self.log_key = log_key
        self.origin = origin

    @property
    def name(self) -> str:
        return self.signer.name

    def observe(self, note: str, proof: Sequence[bytes], previous: WitnessState | None, *, timestamp: int) -> Verdict:
        """Co-sign `note` if the log signed it and `proof` shows it extends `previous`; else say why not.

        `proof` is the consistency proof between the smaller and the larger of the two trees.
        """
        try:
            text, _ = open_note(note, self.log_key)
            checkpoint = Checkpoint.parse(text)
            if checkpoint.origin != self.origin:
                raise NoteError(f"origin {checkpoint.origin!r} is not {self.origin!r}")
        except NoteError as error:
            return Verdict(None, refusal=f"not a checkpoint of this log: {error}")
        if previous is not None:
            if checkpoint.size < previous.size:
                if verify_consistency(checkpoint.size, previous.size, checkpoint.root, previous.root, proof):
                    return Verdict(checkpoint, stale=True)
                return Verdict(
                    checkpoint,
                    refusal=f"rollback: the tree of size {checkpoint.size} is not a prefix of the co-signed tree of "
                    f"size {previous.size} (history rewritten)",
                )
            if not verify_consistency(previous.size, checkpoint.size, previous.root, checkpoint.root, proof):
                what = "fork" if checkpoint.size == previous.size else "inconsistent"
                return Verdict(
                    checkpoint,
                    refusal=f"{what}: the tree of size {checkpoint.size} does not extend the co-signed tree of size "
                    f"{previous.size} (history rewritten)",
                )
        return Verdict(checkpoint, cosignature=self.signer.cosign(text, timestamp))


def with_cosignatures(note: str, cosignatures: Sequence[str]) -> str:
    """The checkpoint note with witness signature lines appended (C2SP: cosignatures are more note signatures)."""
    missing = [line for line in cosignatures if line not in note]
    return note + "".join(missing)
