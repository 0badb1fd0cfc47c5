"""Witnesses: Ordinance's own (``log cosign``) and standard C2SP tlog-witness ones.

**The built-in witness** (:func:`cosign_latest`) keeps one file of state: the last checkpoint
it cosigned, *with its own cosignature*. To cosign the log's latest checkpoint it checks:

1. the state is authentic: it carries this witness's own valid cosignature (or, for a state
   written by an older Ordinance, a signature by a key of the log's key chain);
2. the latest checkpoint is signed by the log key active at its size. The key chain starts at
   a key the witness trusts and follows the log's key-change entries (each signed by the old
   and the new key, and proven included in the latest checkpoint), so a ``keys rotate`` does
   not strand a witness: its state, signed by the old key, stays good;
3. the latest checkpoint extends the state (an RFC 6962 consistency proof), never shrinks it.

**C2SP tlog-witness** (:func:`request_cosignature`): the log submits its latest checkpoint to
a standard witness (litewitness, omniwitness, Armored Witness…) with ``POST
<prefix>/add-checkpoint`` — ``old <size>``, the consistency proof lines, an empty line, the
checkpoint — handles ``409 Conflict`` (``text/x.tlog.size``: the witness's own latest size) by
resubmitting from that size, checks the returned cosignature against the witness's vkey and
stores it with the checkpoint.
"""

from __future__ import annotations

import base64
import urllib.error
import urllib.request
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ordinance.errors import InfrastructureError, InputError, VerificationError
from ordinance.log import merkle
from ordinance.log.note import (
    Checkpoint,
    NoteSignature,
    SignedNote,
    cosign,
    verify_cosignatures,
    verify_note,
)
from ordinance.log.proof import TlogProof
from ordinance.signing import SIGTYPE_COSIGNATURE_V1, Signer, VerifierKey

if TYPE_CHECKING:
    from ordinance.log.store import TransparencyLog

__all__ = [
    "MAX_PROOF_LINES",
    "add_checkpoint_body",
    "cosign_latest",
    "key_chain_at",
    "request_cosignature",
]

MAX_PROOF_LINES = 63
SIZE_CONTENT_TYPE = "text/x.tlog.size"


# --------------------------------------------------------------------------- key chain


def key_chain_at(
    log: TransparencyLog, trusted: Sequence[VerifierKey], cp: Checkpoint, note_text: str
) -> list[tuple[int, VerifierKey]]:
    """The log key chain as of checkpoint ``cp``: [(after index, key)], proven from the log.

    Key-change entries are located with the database's index (a hint), parsed and checked
    (signed by the old and the new key), and proven included in ``cp``; the chain must
    contain a trusted key.
    """
    from sqlalchemy import select

    from ordinance.log.dsse import PREDICATE_KEY_CHANGE
    from ordinance.log.facts import Malformed
    from ordinance.log.keychain import _parse_key_change
    from ordinance.log.schema import entries_t

    with log.engine.connect() as conn:
        rows = conn.execute(
            select(entries_t.c.idx, entries_t.c.envelope)
            .where(entries_t.c.predicate_type == PREDICATE_KEY_CHANGE, entries_t.c.idx < cp.size)
            .order_by(entries_t.c.idx)
        ).all()
    chain: list[tuple[int, VerifierKey]] = []
    for idx, env in rows:
        raw = bytes(env)
        try:
            kc = _parse_key_change(raw)
        except Malformed as exc:
            raise VerificationError(str(exc), index=int(idx)) from None
        if kc is None:
            continue
        proof = TlogProof.parse(log.prove(int(idx)))
        if SignedNote.parse(proof.checkpoint).text != note_text or not merkle.verify_inclusion(
            int(idx), cp.size, merkle.leaf_hash(raw), proof.hashes, cp.root
        ):
            raise VerificationError("key change not included in the checkpoint", index=int(idx))
        old, new = kc
        if not chain:
            chain.append((-1, old))
        elif chain[-1][1] != old:
            raise VerificationError(
                f"key change from {old.vkey}, but the active key is {chain[-1][1].vkey}",
                index=int(idx),
            )
        chain.append((int(idx), new))
    if not chain:
        chain = [(-1, trusted[0])] if trusted else []
    keys = [k for _, k in chain]
    if not any(t in keys for t in trusted):
        raise VerificationError("none of the trusted log keys is a key of this log")
    return chain


def _active(chain: list[tuple[int, VerifierKey]], size: int) -> VerifierKey:
    key = chain[0][1]
    for after, k in chain:
        if after < size:
            key = k
    return key


# --------------------------------------------------------------------------- built-in witness


def cosign_latest(
    log: TransparencyLog,
    witness: Signer,
    log_keys: Sequence[VerifierKey],
    last_seen: str | None = None,
    *,
    timestamp: int | None = None,
) -> tuple[NoteSignature, str]:
    """Check the latest checkpoint against the state ``last_seen`` and cosign it.

    Returns the cosignature and the new state (the checkpoint with this cosignature).
    """
    if witness.sigtype != SIGTYPE_COSIGNATURE_V1:
        raise InputError(f"key {witness.name} is not a cosignature (type 0x04) key")
    me = VerifierKey(witness.name, witness.sigtype, witness.public_key)
    note = SignedNote.parse(log.latest_checkpoint())
    cp = Checkpoint.from_text(note.text)
    if cp.origin != log.origin:
        raise VerificationError(f"checkpoint origin {cp.origin!r} is not {log.origin!r}")
    chain = key_chain_at(log, log_keys, cp, note.text)
    active = _active(chain, cp.size)
    if active not in verify_note(note, [k for _, k in chain]):
        raise VerificationError(f"checkpoint {cp.size} is not signed by the active log key")
    if last_seen is not None:
        old_note = SignedNote.parse(last_seen)
        old = Checkpoint.from_text(old_note.text)
        if old.origin != cp.origin:
            raise VerificationError("the witness state is for another log")
        # a state written before states carried the witness's own cosignature: the log's key
        if not verify_cosignatures(old_note, [me]) and _active(chain, old.size) not in verify_note(
            old_note, [k for _, k in chain]
        ):
            raise VerificationError("the witness state is not signed by this log's key")
        if old.size > cp.size:
            raise VerificationError(
                f"rollback: the log shrank from {old.size} to {cp.size} entries", index=cp.size
            )
        if old.size == cp.size and old.root != cp.root:
            raise VerificationError(f"fork: another root at size {cp.size}")
        if 0 < old.size < cp.size:
            proof = log.consistency(old.size, cp.size)
            if not merkle.verify_consistency(old.size, cp.size, proof, old.root, cp.root):
                raise VerificationError(
                    f"fork: checkpoint {cp.size} is not consistent with {old.size}"
                )
    ts = int(log._clock().timestamp()) if timestamp is None else timestamp
    sig = cosign(note.text, witness, ts)
    log.add_cosignature(cp.size, sig)
    return sig, SignedNote(note.text, (*note.signatures, sig)).render()


# --------------------------------------------------------------------------- C2SP tlog-witness


def add_checkpoint_body(old_size: int, proof: Sequence[bytes], checkpoint: str) -> bytes:
    """The ``add-checkpoint`` request body."""
    if len(proof) > MAX_PROOF_LINES:
        raise InputError(f"a consistency proof of {len(proof)} lines is over {MAX_PROOF_LINES}")
    lines = [f"old {old_size}"] + [base64.b64encode(h).decode() for h in proof]
    return ("\n".join(lines) + "\n\n" + checkpoint).encode("utf-8")


def _post(url: str, body: bytes, timeout: float) -> tuple[int, str, bytes]:
    if not url.startswith(("http://", "https://")):
        raise InputError(f"witness URL {url!r} must be http:// or https://")
    req = urllib.request.Request(url, data=body, method="POST")  # noqa: S310 (scheme checked)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310
            return int(resp.status), str(resp.headers.get("Content-Type", "")), bytes(resp.read())
    except urllib.error.HTTPError as exc:
        return int(exc.code), str(exc.headers.get("Content-Type", "")), bytes(exc.read())
    except (urllib.error.URLError, OSError) as exc:
        raise InfrastructureError(f"witness {url} unreachable: {exc}") from exc


def request_cosignature(
    log: TransparencyLog,
    url: str,
    witness_vkey: VerifierKey,
    *,
    old_size: int = 0,
    timeout: float = 10.0,
) -> NoteSignature:
    """Submit the latest checkpoint to a C2SP tlog-witness at ``url`` (its submission prefix).

    Starts from ``old_size`` (0 asks the witness for its size on a first contact), resubmits
    once on ``409 Conflict`` from the size the witness reports, verifies the cosignature
    against ``witness_vkey`` and stores it with the checkpoint.
    """
    if witness_vkey.sigtype != SIGTYPE_COSIGNATURE_V1:
        raise InputError(f"{witness_vkey.vkey} is not a witness (cosignature, type 0x04) key")
    endpoint = url.rstrip("/") + "/add-checkpoint"
    note_text = log.latest_checkpoint()
    note = SignedNote.parse(note_text)
    cp = Checkpoint.from_text(note.text)
    for _attempt in range(2):
        if old_size > cp.size:
            raise VerificationError(
                f"the witness has seen {old_size} entries, the log has {cp.size}: rollback?"
            )
        proof = log.consistency(old_size, cp.size) if 0 < old_size < cp.size else []
        status, ctype, body = _post(
            endpoint, add_checkpoint_body(old_size, proof, note_text), timeout
        )
        if status == 409 and ctype.split(";")[0].strip() == SIZE_CONTENT_TYPE:
            text = body.decode("ascii", "replace")
            if not text.endswith("\n") or not text[:-1].isdigit():
                raise VerificationError(f"witness {url}: malformed 409 body {text!r}")
            old_size = int(text[:-1])
            continue
        if status != 200:
            what = {
                400: "refused the request as malformed",
                403: "does not trust the log key that signed the checkpoint",
                404: f"does not know the log {cp.origin!r}",
                409: "holds a different tree at this size (fork?)",
                422: "refused the consistency proof",
            }.get(status, f"answered HTTP {status}")
            raise VerificationError(f"witness {url} {what}: {body[:200]!r}")
        return _accept(log, note, cp, body, witness_vkey, url)
    raise VerificationError(f"witness {url} kept answering 409 Conflict")


def _accept(
    log: TransparencyLog,
    note: SignedNote,
    cp: Checkpoint,
    body: bytes,
    witness_vkey: VerifierKey,
    url: str,
) -> NoteSignature:
    try:
        text = body.decode("utf-8")
        lines = [NoteSignature.parse_line(line) for line in text.split("\n")[:-1]]
    except (UnicodeDecodeError, InputError):
        raise VerificationError(f"witness {url}: malformed cosignature response") from None
    if not text.endswith("\n") or not lines:
        raise VerificationError(f"witness {url}: malformed cosignature response")
    mine = [
        s for s in lines if (s.name, s.key_id) == (witness_vkey.name, witness_vkey.key_id_bytes)
    ]
    if not mine:
        raise VerificationError(f"witness {url} returned no cosignature by {witness_vkey.name}")
    ok = verify_cosignatures(SignedNote(note.text, tuple(mine)), [witness_vkey])
    if not ok:
        raise VerificationError(f"witness {url}: cosignature does not verify")
    log.add_cosignature(cp.size, mine[0])
    return mine[0]
