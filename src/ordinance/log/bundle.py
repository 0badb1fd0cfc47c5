"""Offline audit bundles: everything an auditor needs, as plain files, verifiable with no DB.

Layout of a bundle directory::

    manifest.json       {"format": "ordinance-log-bundle/v1", "origin", "size", "root",
                         "vkey", "key_changes": [indices], "entries_sha256"}
    entries.jsonl       entry i is line i: the exact envelope bytes, then 0x0A
    checkpoints.jsonl   every signed checkpoint note (with cosignatures) as a JSON string,
                        one per line, in increasing tree size
    checkpoint          the latest checkpoint note, verbatim
    log.vkey            the log's verifier key at export time (a hint: pin your own)

Everything in the manifest is an unauthenticated hint; the verifier trusts only the vkey
the auditor supplies and the signatures it checks. A wrong hint can cost time, never change a
verdict. The bundle's own ``log.vkey``/manifest key is never trusted unless the caller says so
explicitly (``unsafe_trust_bundle_key``). The ``checkpoint`` file must be the latest signed
checkpoint, and ``entries.jsonl`` must end with a newline: anything else fails verification.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Callable, Generator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import select

from ordinance._files import SMALL_LIMIT, check_regular, read_limited
from ordinance.errors import InfrastructureError, InputError, VerificationError
from ordinance.log.note import Checkpoint, SignedNote
from ordinance.log.sources import EntryBatches, IndexedBatches
from ordinance.log.verify import VerifyReport, verify_source
from ordinance.signing import VerifierKey, parse_vkey

if TYPE_CHECKING:
    from ordinance.log.store import TransparencyLog

__all__ = ["BundleSource", "export_bundle", "verify_bundle"]

FORMAT = "ordinance-log-bundle/v1"
_BATCH = 20_000


def export_bundle(log: TransparencyLog, out_dir: Path) -> Path:
    """Write the log as of its latest checkpoint into ``out_dir`` (created; must be empty)."""
    from ordinance.log.dsse import PREDICATE_KEY_CHANGE
    from ordinance.log.queries import _all_checkpoints
    from ordinance.log.schema import entries_t

    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        if any(out_dir.iterdir()):
            raise InputError(f"{out_dir} is not empty; export into a new directory")
        with log.engine.connect() as conn:
            notes = _all_checkpoints(conn)
        size = 0
        root = b""
        if notes:
            cp = Checkpoint.from_text(SignedNote.parse(notes[-1]).text)
            size, root = cp.size, cp.root
        digest = hashlib.sha256()
        key_changes: list[int] = []
        q = (
            select(entries_t.c.idx, entries_t.c.envelope, entries_t.c.predicate_type)
            .where(entries_t.c.idx < size)
            .order_by(entries_t.c.idx)
        )
        with (out_dir / "entries.jsonl").open("wb") as f, log.engine.connect() as conn:
            result = conn.execution_options(yield_per=_BATCH).execute(q)
            for part in result.partitions():
                chunk = b"".join(bytes(e) + b"\n" for _, e, _ in part)
                digest.update(chunk)
                f.write(chunk)
                key_changes.extend(int(i) for i, _, p in part if p == PREDICATE_KEY_CHANGE)
            f.flush()
            os.fsync(f.fileno())
        with (out_dir / "checkpoints.jsonl").open("w", encoding="utf-8") as f:
            for n in notes:
                f.write(json.dumps(n, ensure_ascii=False) + "\n")
        (out_dir / "checkpoint").write_text(notes[-1] if notes else "", encoding="utf-8")
        (out_dir / "log.vkey").write_text(log.vkey + "\n", encoding="utf-8")
        manifest = {
            "format": FORMAT,
            "origin": log.origin,
            "size": size,
            "root": root.hex(),
            "vkey": log.vkey,
            "key_changes": key_changes,
            "entries_sha256": digest.hexdigest(),
        }
        (out_dir / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
    except OSError as exc:
        raise InfrastructureError(f"cannot write bundle {out_dir}: {exc.strerror or exc}") from exc
    return out_dir


class BundleSource:
    """Read a bundle directory as a :class:`~ordinance.log.verify.LogSource`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # every part a regular file (a FIFO, device or symlink loop is refused, never read)
        for name in ("manifest.json", "entries.jsonl", "checkpoints.jsonl", "checkpoint"):
            part = self.path / name
            if name == "checkpoint" and not part.exists() and not part.is_symlink():
                continue  # optional
            check_regular(
                part, limit=SMALL_LIMIT if name in ("manifest.json", "checkpoint") else None
            )
        try:
            self.manifest = json.loads(read_limited(self.path / "manifest.json", SMALL_LIMIT))
        except (ValueError, RecursionError) as exc:
            raise InputError(f"{self.path}: not an Ordinance log bundle ({exc})") from None
        if not isinstance(self.manifest, dict) or self.manifest.get("format") != FORMAT:
            raise InputError(f"{self.path}: unknown bundle format")
        self._entries = self.path / "entries.jsonl"
        self._kc_cache: dict[int, bytes] | None = None

    def vkey_hint(self) -> VerifierKey:
        """The key the bundle says it is signed by: an untrusted hint, never a trust anchor."""
        return parse_vkey(str(self.manifest.get("vkey", "")))

    def head_note(self) -> str | None:
        """The ``checkpoint`` file (``None`` if absent); it must be the latest checkpoint."""
        try:
            return (self.path / "checkpoint").read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise VerificationError(f"the bundle's checkpoint file is unreadable: {exc}") from None

    def entry_count(self) -> int:
        with self._entries.open("rb") as f:
            return sum(chunk.count(b"\n") for chunk in iter(lambda: f.read(1 << 20), b""))

    def checkpoints(self) -> list[str]:
        out = []
        try:
            with (self.path / "checkpoints.jsonl").open(encoding="utf-8") as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        note = json.loads(line)
                    except ValueError:
                        note = None
                    if not isinstance(note, str):
                        raise VerificationError(
                            f"checkpoints.jsonl line {n}: not a JSON string holding a checkpoint"
                        )
                    out.append(note)
        except FileNotFoundError:
            raise InputError(f"{self.path}: no checkpoints.jsonl (not a complete bundle)") from None
        except UnicodeDecodeError:
            raise VerificationError("checkpoints.jsonl is not UTF-8") from None
        return out

    def key_change_indices(self) -> list[int]:
        """Hint only: where key changes are (a wrong hint is ignored, see verify)."""
        kc = self.manifest.get("key_changes", [])
        if not isinstance(kc, list):
            return []
        return sorted({i for i in kc if type(i) is int and i >= 0})

    def entry_bytes(self, index: int) -> bytes | None:
        if self._kc_cache is None:
            want = set(self.key_change_indices())
            self._kc_cache = {}
            for batch in self.iter_entries():
                for i, env, _ in batch:
                    if i in want:
                        self._kc_cache[i] = env
        if index in self._kc_cache:
            return self._kc_cache[index]
        for batch in self.iter_entries():
            for i, env, _ in batch:
                if i == index:
                    return env
        return None

    def _lines(self) -> Generator[list[tuple[int, bytes]], None, None]:
        idx = 0
        batch: list[tuple[int, bytes]] = []
        with self._entries.open("rb") as f:
            for line in f:
                if not line.endswith(b"\n"):
                    raise VerificationError(
                        "entries.jsonl does not end with a newline (truncated bundle?)",
                        index=idx,
                    )
                batch.append((idx, line[:-1]))
                idx += 1
                if len(batch) >= _BATCH:
                    yield batch
                    batch = []
        if batch:
            yield batch

    def iter_entries(self) -> EntryBatches:
        for batch in self._lines():
            yield [(i, e, None) for i, e in batch]

    def iter_indexed(
        self,
    ) -> IndexedBatches:
        for batch in self._lines():
            yield [(i, e, None, None) for i, e in batch]


def verify_bundle(
    path: Path,
    vkey: str | VerifierKey | None = None,
    *,
    trusted_checkpoint: str | None = None,
    witness_vkeys: Sequence[str | VerifierKey] = (),
    min_witnesses: int = 0,
    deep: bool = False,
    progress: Callable[[int], None] | None = None,
    entry_vkeys: Sequence[str | VerifierKey] = (),
    workers: int | None = None,
    unsafe_trust_bundle_key: bool = False,
) -> VerifyReport:
    """Verify an exported bundle against ``vkey``, the log key the auditor trusts.

    Fails closed: without ``vkey`` this raises :class:`InputError`, unless
    ``unsafe_trust_bundle_key`` says to take the bundle's own key on trust. That proves only
    that the bundle is self-consistent; anyone can fabricate a self-consistent bundle.
    """
    source = BundleSource(Path(path))
    if vkey is None and not unsafe_trust_bundle_key:
        raise InputError(
            "no trusted log key: pass the log's vkey (obtained out of band), or "
            "--unsafe-trust-bundle-key to trust the bundle's own key for a first look"
        )
    return verify_source(
        source,
        vkey if vkey is not None else source.vkey_hint(),
        trusted_checkpoint=trusted_checkpoint,
        witness_vkeys=witness_vkeys,
        min_witnesses=min_witnesses,
        deep=deep,
        progress=progress,
        entry_vkeys=entry_vkeys,
        workers=workers,
    )
