"""C2SP signed notes, tlog-checkpoints and tlog-cosignatures (Ed25519).

A signed note is ``text`` (UTF-8, ending in ``\\n``, no control characters other than
``\\n``), an empty line, then signature lines ``— <name> <base64(keyid[4] || sig)>\\n``.
Verification ignores lines from unknown (name, key ID) pairs, rejects the note if a known
key's signature does not verify, and requires at least one known key to verify.

A checkpoint is a note whose text is ``<origin>\\n<size>\\n<base64 root>\\n[extensions]``.
A cosignature (type 0x04) signs ``"cosignature/v1\\ntime <ts>\\n" || <checkpoint text>`` and
its blob is ``keyid[4] || u64be(ts) || sig[64]``.
"""

from __future__ import annotations

import base64
import binascii
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ordinance.errors import InputError, VerificationError
from ordinance.signing import (
    SIGTYPE_COSIGNATURE_V1,
    SIGTYPE_ED25519,
    Signer,
    VerifierKey,
    b64decode,
)

__all__ = [
    "Checkpoint",
    "NoteSignature",
    "SignedNote",
    "cosign",
    "cosignature_message",
    "sign_note",
    "verify_cosignatures",
    "verify_note",
]

EM_DASH = "\u2014"
MAX_SIGNATURES = 100
MAX_NOTE_BYTES = 1 << 20
#: Timestamps and tree sizes are at most 2^63 - 1 (C2SP tlog-cosignature, signed SQL BIGINT).
MAX_TIMESTAMP = (1 << 63) - 1
MAX_TREE_SIZE = (1 << 63) - 1


@dataclass(frozen=True)
class NoteSignature:
    """One signature line: key name, 4-byte key ID and the signature bytes that follow it."""

    name: str
    key_id: bytes
    signature: bytes

    def line(self) -> str:
        blob = base64.b64encode(self.key_id + self.signature).decode()
        return f"{EM_DASH} {self.name} {blob}\n"

    @classmethod
    def parse_line(cls, line: str) -> NoteSignature:
        if not line.startswith(EM_DASH + " "):
            raise InputError(f"malformed note signature line {line!r}")
        parts = line[2:].split(" ")
        if len(parts) != 2 or not parts[0] or "+" in parts[0]:
            raise InputError(f"malformed note signature line {line!r}")
        try:
            blob = b64decode(parts[1])
        except (ValueError, binascii.Error):
            raise InputError(f"malformed note signature line {line!r}") from None
        if len(blob) < 5:
            raise InputError(f"malformed note signature line {line!r}")
        return cls(parts[0], blob[:4], blob[4:])


@dataclass(frozen=True)
class SignedNote:
    """A note's text and signatures; :meth:`render` is its exact serialization."""

    text: str
    signatures: tuple[NoteSignature, ...]

    def render(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)

    def with_signatures(self, extra: Iterable[NoteSignature]) -> SignedNote:
        have = set(self.signatures)
        add = tuple(s for s in extra if s not in have)
        return SignedNote(self.text, self.signatures + add)

    @classmethod
    def parse(cls, note: str | bytes) -> SignedNote:
        if isinstance(note, bytes):
            if len(note) > MAX_NOTE_BYTES:
                raise InputError("signed note too large")
            try:
                note = note.decode("utf-8")
            except UnicodeDecodeError:
                raise InputError("signed note is not UTF-8") from None
        if len(note) > MAX_NOTE_BYTES:
            raise InputError("signed note too large")
        if any((c < " " and c != "\n") or c == "\x7f" for c in note):
            raise InputError("signed note contains control characters")
        split = note.rfind("\n\n")
        if split < 0 or not note.endswith("\n"):
            raise InputError("malformed signed note: no signature block")
        text = note[: split + 1]
        lines = note[split + 2 : -1].split("\n")
        if len(lines) > MAX_SIGNATURES:
            raise InputError("signed note has too many signatures")
        sigs = tuple(NoteSignature.parse_line(line) for line in lines)
        if not sigs:
            raise InputError("malformed signed note: no signatures")
        return cls(text, sigs)


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        raise InputError("note text must end with a newline")
    if any((c < " " and c != "\n") or c == "\x7f" for c in text):
        raise InputError("note text contains control characters")


def sign_note(text: str, signers: Sequence[Signer]) -> SignedNote:
    """Sign ``text`` with each (type 0x01) signer."""
    _check_text(text)
    msg = text.encode("utf-8")
    sigs = []
    for s in signers:
        if s.sigtype != SIGTYPE_ED25519:
            raise InputError(f"key {s.name} is not a note-signing (type 0x01) key")
        sigs.append(NoteSignature(s.name, bytes.fromhex(s.key_id), s.sign(msg)))
    return SignedNote(text, tuple(sigs))


def verify_note(note: SignedNote, keys: Iterable[VerifierKey]) -> list[VerifierKey]:
    """Check a note per C2SP signed-note; return the (type 0x01) keys that verified it.

    Raises :class:`VerificationError` if a known key's signature is bad, or none verified.
    """
    known = {(k.name, k.key_id_bytes): k for k in keys if k.sigtype == SIGTYPE_ED25519}
    msg = note.text.encode("utf-8")
    ok: list[VerifierKey] = []
    for s in note.signatures:
        k = known.get((s.name, s.key_id))
        if k is None:
            continue
        if not k.verify(msg, s.signature):
            raise VerificationError(f"bad note signature by {k.name}+{k.key_id}")
        if k not in ok:
            ok.append(k)
    if not ok:
        raise VerificationError("note is not signed by any trusted key")
    return ok


def cosignature_message(text: str, timestamp: int) -> bytes:
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode("utf-8")


def cosign(checkpoint_text: str, signer: Signer, timestamp: int) -> NoteSignature:
    """A tlog-cosignature/v1 line over a checkpoint's note text."""
    if signer.sigtype != SIGTYPE_COSIGNATURE_V1:
        raise InputError(f"key {signer.name} is not a cosignature (type 0x04) key")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise InputError(f"cosignature timestamp {timestamp} is outside 0..2^63-1")
    _check_text(checkpoint_text)
    sig = signer.sign(cosignature_message(checkpoint_text, timestamp))
    return NoteSignature(
        signer.name, bytes.fromhex(signer.key_id), struct.pack(">Q", timestamp) + sig
    )


def verify_cosignatures(note: SignedNote, witnesses: Iterable[VerifierKey]) -> list[VerifierKey]:
    """Witness keys (type 0x04) whose cosignature on ``note`` verifies; bad ones raise."""
    known = {(k.name, k.key_id_bytes): k for k in witnesses if k.sigtype == SIGTYPE_COSIGNATURE_V1}
    ok: list[VerifierKey] = []
    for s in note.signatures:
        k = known.get((s.name, s.key_id))
        if k is None:
            continue
        if len(s.signature) != 8 + 64:
            raise VerificationError(f"malformed cosignature by {k.name}+{k.key_id}")
        (ts,) = struct.unpack(">Q", s.signature[:8])
        if ts > MAX_TIMESTAMP:
            raise VerificationError(
                f"cosignature by {k.name}+{k.key_id} has timestamp {ts}, above 2^63-1"
            )
        if not k.verify(cosignature_message(note.text, ts), s.signature[8:]):
            raise VerificationError(f"bad cosignature by {k.name}+{k.key_id}")
        if k not in ok:
            ok.append(k)
    return ok


@dataclass(frozen=True)
class Checkpoint:
    """A tlog-checkpoint body: origin, tree size, root hash and optional extension lines."""

    origin: str
    size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [
            self.origin,
            str(self.size),
            base64.b64encode(self.root).decode(),
            *self.extensions,
        ]
        return "".join(line + "\n" for line in lines)

    @classmethod
    def from_text(cls, text: str) -> Checkpoint:
        if not text.endswith("\n"):
            raise InputError("malformed checkpoint: text must end with a newline")
        lines = text[:-1].split("\n")
        if len(lines) < 3 or not lines[0]:
            raise InputError("malformed checkpoint: needs origin, size and root lines")
        origin, size_s, root_s, *ext = lines
        if (
            not size_s.isdigit()
            or (size_s != "0" and size_s.startswith("0"))
            or not size_s.isascii()
        ):
            raise InputError(f"malformed checkpoint: bad tree size {size_s!r}")
        try:
            root = base64.b64decode(root_s, validate=True)
        except (ValueError, binascii.Error):
            raise InputError("malformed checkpoint: root is not base64") from None
        if len(root) != 32:
            raise InputError("malformed checkpoint: root is not 32 bytes")
        if any(not e for e in ext):
            raise InputError("malformed checkpoint: empty extension line")
        if int(size_s) > MAX_TREE_SIZE:
            raise InputError(f"malformed checkpoint: tree size {size_s} is above 2^63-1")
        return cls(origin, int(size_s), root, tuple(ext))
