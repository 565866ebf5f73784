"""Witnesses: check that each new checkpoint extends the last one they saw, and co-sign it; refuse a rewrite.

`Witness.observe` is the whole decision, shared by the in-sandbox witness (state in the gateway's database, run
after every published checkpoint) and `dpi-sandbox audit witness` (state in a file, talking to the gateway's
`/audit` API over HTTP). A refused checkpoint is recorded where auditors read it (`GET /audit/witness/refusals`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

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


# ---- the witness run by oversight outside the gateway (`dpi-sandbox audit witness`) --------------------------------


def load_state(path: Path) -> WitnessState | None:
    if not path.exists():
        return None
    data = json.loads(path.read_text())
    return WitnessState(int(data["size"]), base64.b64decode(data["root"]), str(data["note"]))


def save_state(path: Path, state: WitnessState) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(
        json.dumps({"size": state.size, "root": base64.b64encode(state.root).decode(), "note": state.note}, indent=2)
    )
    temporary.replace(path)


async def witness_once(client: httpx.AsyncClient, witness: Witness, state_path: Path, *, timestamp: int) -> Verdict:
    """Fetch the gateway's latest checkpoint, check it against the last one this witness co-signed, report the
    verdict back (cosignature or refusal) and keep the new state only if it co-signed."""
    response = await client.get("/audit/checkpoint")
    response.raise_for_status()
    note = str(response.json()["note"])
    previous = load_state(state_path)
    proof: list[bytes] = []
    size = _size_of(note)
    if previous is not None and size is not None and size != previous.size:
        old, new = sorted((size, previous.size))
        answer = await client.get("/audit/proofs/consistency", params={"old": old, "new": new})
        if answer.status_code == 200:
            proof = [base64.b64decode(h) for h in answer.json()["proof"]]
    verdict = witness.observe(_log_signed_part(note, witness), proof, previous, timestamp=timestamp)
    if verdict.stale:
        return verdict
    report = {"witness": witness.name, "size": verdict.checkpoint.size if verdict.checkpoint else size or 0,
              "note": note, "cosignature": verdict.cosignature, "refusal": verdict.refusal}  # fmt: skip
    (await client.post("/audit/witness/verdicts", json=report)).raise_for_status()
    if verdict.accepted and verdict.checkpoint is not None:
        save_state(state_path, WitnessState(verdict.checkpoint.size, verdict.checkpoint.root, note))
    return verdict


def _size_of(note: str) -> int | None:
    lines = note.split("\n")
    return int(lines[1]) if len(lines) > 2 and lines[1].isdigit() else None


def _log_signed_part(note: str, witness: Witness) -> str:
    """The note with only the log's own signature line (other witnesses' lines are not this witness's business)."""
    text, _, block = note.partition("\n\n")
    mine = [line for line in block.splitlines() if line.startswith(f"\u2014 {witness.log_key.name} ")]
    return f"{text}\n\n" + "".join(f"{line}\n" for line in mine)
