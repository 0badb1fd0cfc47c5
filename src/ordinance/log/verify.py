"""Offline verification of a whole log, from the database or from an exported bundle.

The pipeline (:func:`verify_source`):

1. parse the trusted vkey and the witness vkeys;
2. resolve the log key chain from key-change entries (each signed by the key it replaces
   and by the new key) and require the trusted key to be part of it;
3. check every checkpoint: parses, one origin, strictly growing sizes, a valid signature by
   the key active at its size, valid witness cosignatures, and the witness quorum on the
   latest one; check the auditor's trusted checkpoint the same way;
4. stream every entry in order: indices contiguous, leaf hash recomputed from the stored
   bytes (and compared to the stored leaf hash when there is one), the Merkle root
   recomputed at every checkpoint size and at the trusted checkpoint's size. Every signed
   root being the root of a prefix of one leaf sequence is what makes consecutive checkpoints
   (and the trusted checkpoint) consistent with each other;
5. with ``deep``: every entry's DSSE signature checked (all CPU cores), its statement parsed,
   and the database's index columns compared with the statement.

The first failure is reported with the first entry index that cannot be shown good.

Where each step lives: the sources in :mod:`ordinance.log.sources`, the key chain in
:mod:`ordinance.log.keychain`, steps 3-4 in :mod:`ordinance.log.structure`, step 5 in
:mod:`ordinance.log.deep`; what they share in :mod:`ordinance.log._verifying`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ordinance.errors import InputError, VerificationError
from ordinance.log._verifying import _Bad, _first, _State
from ordinance.log.deep import _verify_deep
from ordinance.log.semantics import (
    SemanticState,
)
from ordinance.log.sources import LogSource
from ordinance.log.structure import _verify_structure
from ordinance.signing import (
    SIGTYPE_COSIGNATURE_V1,
    SIGTYPE_ED25519,
    VerifierKey,
    parse_vkey,
)

__all__ = [
    "VerifyReport",
    "verify_source",
]


@dataclass(frozen=True)
class VerifyReport:
    """The outcome of a log verification: data, not a boolean."""

    ok: bool
    size: int
    root: bytes | None
    checkpoints_checked: int
    entries_checked: int = 0
    signatures_checked: int = 0
    first_bad_index: int | None = None
    reason: str | None = None
    deep: bool = False
    log_keys: tuple[str, ...] = ()
    witnesses: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "size": self.size,
            "root": self.root.hex() if self.root is not None else None,
            "checkpoints_checked": self.checkpoints_checked,
            "entries_checked": self.entries_checked,
            "signatures_checked": self.signatures_checked,
            "first_bad_index": self.first_bad_index,
            "reason": self.reason,
            "deep": self.deep,
            "log_keys": list(self.log_keys),
            "witnesses": list(self.witnesses),
        }

    def raise_for_failure(self) -> None:
        if not self.ok:
            raise VerificationError(
                self.reason or "log verification failed", index=self.first_bad_index
            )


def _as_key(k: str | VerifierKey, sigtype: int, what: str) -> VerifierKey:
    key = k if isinstance(k, VerifierKey) else parse_vkey(k)
    if key.sigtype != sigtype:
        raise InputError(f"{what} {key.vkey} has type 0x{key.sigtype:02x}, want 0x{sigtype:02x}")
    return key


def verify_source(
    source: LogSource,
    vkey: str | VerifierKey,
    *,
    trusted_checkpoint: str | None = None,
    witness_vkeys: Sequence[str | VerifierKey] = (),
    min_witnesses: int = 0,
    deep: bool = False,
    progress: Callable[[int], None] | None = None,
    entry_vkeys: Sequence[str | VerifierKey] = (),
    workers: int | None = None,
) -> VerifyReport:
    """Verify a log; never raises for a bad log (see the report), only for bad arguments.

    ``entry_vkeys`` are extra keys accepted on entries whose predicate type Ordinance does
    not define; Ordinance's own predicates are signed by whom the log's roster and key chain
    say (:mod:`ordinance.log.semantics`), whatever is passed here.
    """
    trusted = _as_key(vkey, SIGTYPE_ED25519, "log key")
    witnesses = [_as_key(w, SIGTYPE_COSIGNATURE_V1, "witness key") for w in witness_vkeys]
    extra = [_as_key(k, SIGTYPE_ED25519, "entry key") for k in entry_vkeys]
    if min_witnesses > len(witnesses):
        raise InputError(
            f"--min-witnesses {min_witnesses} but only {len(witnesses)} witness key(s)"
        )
    st = _State()
    failure: _Bad | None = None
    try:
        _verify_structure(
            source, trusted, trusted_checkpoint, witnesses, min_witnesses, progress, st, workers
        )
    except _Bad as bad:
        failure = bad
    except VerificationError as exc:
        failure = _Bad(exc.index, _bare(exc))
    if deep:
        chain = [parse_vkey(k) for k in st.keys] or [trusted]
        state = SemanticState(
            worker_keys=_unique(chain),
            log_key=chain[0],
            checkpoint_roots=st.roots if st.roots_complete else None,
            extra_keys=extra,
        )
        try:
            _verify_deep(source, state, progress, workers, st)
        except _Bad as bad:
            failure = _first(failure, bad)
        except VerificationError as exc:
            failure = _first(failure, _Bad(exc.index, _bare(exc)))
    return VerifyReport(
        ok=failure is None,
        size=st.size,
        root=st.root,
        checkpoints_checked=st.checkpoints,
        entries_checked=st.entries,
        signatures_checked=st.signatures,
        first_bad_index=None if failure is None else failure.index,
        reason=None if failure is None else failure.reason,
        deep=deep,
        log_keys=st.keys,
        witnesses=st.witnesses,
    )


def _bare(exc: VerificationError) -> str:
    prefix = f"entry {exc.index}: "
    return exc.message[len(prefix) :] if exc.message.startswith(prefix) else exc.message


def _unique(keys: Sequence[VerifierKey]) -> list[VerifierKey]:
    out: list[VerifierKey] = []
    for k in keys:
        if k not in out:
            out.append(k)
    return out
