"""C2SP tlog-proof (``c2sp.org/tlog-proof@v1``): an offline inclusion receipt for one entry.

::

    c2sp.org/tlog-proof@v1
    [extra <base64, unauthenticated>]
    index <0-based decimal>
    <base64 inclusion-path hash, leaf sibling first, one per line>
    <empty line>
    <checkpoint signed note, verbatim>
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterable
from dataclasses import dataclass

from ordinance.errors import InputError, VerificationError
from ordinance.log import merkle
from ordinance.log.note import Checkpoint, SignedNote, verify_cosignatures, verify_note
from ordinance.signing import VerifierKey

__all__ = ["HEADER", "TlogProof", "verify_tlog_proof"]

HEADER = "c2sp.org/tlog-proof@v1"


@dataclass(frozen=True)
class TlogProof:
    index: int
    hashes: tuple[bytes, ...]
    checkpoint: str
    extra: bytes | None = None

    def render(self) -> str:
        lines = [HEADER]
        if self.extra is not None:
            lines.append("extra " + base64.b64encode(self.extra).decode())
        lines.append(f"index {self.index}")
        lines.extend(base64.b64encode(h).decode() for h in self.hashes)
        return "\n".join(lines) + "\n\n" + self.checkpoint

    @classmethod
    def parse(cls, text: str) -> TlogProof:
        head, sep, checkpoint = text.partition("\n\n")
        if not sep:
            raise InputError("malformed tlog-proof: no empty line before the checkpoint")
        lines = head.split("\n")
        if lines[0] != HEADER:
            raise InputError(f"malformed tlog-proof: first line must be {HEADER}")
        pos = 1
        extra: bytes | None = None
        if pos < len(lines) and lines[pos].startswith("extra "):
            try:
                extra = base64.b64decode(lines[pos][6:], validate=True)
            except (ValueError, binascii.Error):
                raise InputError("malformed tlog-proof: extra is not base64") from None
            pos += 1
        if pos >= len(lines) or not lines[pos].startswith("index "):
            raise InputError("malformed tlog-proof: missing index line")
        idx_s = lines[pos][6:]
        if not idx_s.isascii() or not idx_s.isdigit() or (len(idx_s) > 1 and idx_s[0] == "0"):
            raise InputError(f"malformed tlog-proof: bad index {idx_s!r}")
        hashes = []
        for line in lines[pos + 1 :]:
            try:
                h = base64.b64decode(line, validate=True)
            except (ValueError, binascii.Error):
                raise InputError("malformed tlog-proof: hash is not base64") from None
            if len(h) != merkle.HASH_SIZE:
                raise InputError("malformed tlog-proof: hash is not 32 bytes")
            hashes.append(h)
        return cls(int(idx_s), tuple(hashes), checkpoint, extra)


def verify_tlog_proof(
    proof: TlogProof,
    entry: bytes,
    log_keys: Iterable[VerifierKey],
    *,
    origin: str | None = None,
    witness_keys: Iterable[VerifierKey] = (),
    min_witnesses: int = 0,
) -> Checkpoint:
    """Verify one entry's receipt: signature, origin, witnesses, inclusion."""
    note = SignedNote.parse(proof.checkpoint)
    verify_note(note, log_keys)
    cp = Checkpoint.from_text(note.text)
    if origin is not None and cp.origin != origin:
        raise VerificationError(f"checkpoint origin {cp.origin!r}, expected {origin!r}")
    if min_witnesses:
        got = verify_cosignatures(note, witness_keys)
        if len(got) < min_witnesses:
            raise VerificationError(
                f"checkpoint has {len(got)} witness cosignature(s), policy needs {min_witnesses}"
            )
    if not merkle.verify_inclusion(
        proof.index, cp.size, merkle.leaf_hash(entry), proof.hashes, cp.root
    ):
        raise VerificationError("inclusion proof does not verify", index=proof.index)
    return cp
