"""The content-addressed evidence store: files kept under ``evidence/sha256/ab/<digest>``."""

from __future__ import annotations

import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from ordinance.errors import InfrastructureError, NotFoundError


@dataclass(frozen=True)
class EvidenceStore:
    """Files by SHA-256 under ``root``. Constructing one does no I/O."""

    root: Path

    def path(self, sha256: str) -> Path:
        """Where the blob with this digest lives (whether or not it exists)."""
        if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
            raise NotFoundError(f"not a sha256 digest: {sha256!r}")
        return self.root / "sha256" / sha256[:2] / sha256

    def has(self, sha256: str) -> bool:
        return self.path(sha256).is_file()

    def open_path(self, sha256: str) -> Path:
        """The path of a stored blob; NotFoundError if it is missing."""
        p = self.path(sha256)
        if not p.is_file():
            raise NotFoundError(f"evidence blob {sha256[:12]}… is missing from {self.root}")
        return p

    def put(self, source: Path, sha256: str) -> bool:
        """Copy ``source`` in under its (already computed) digest; True if newly added."""
        dest = self.path(sha256)
        if dest.is_file():
            return False
        try:
            dest.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=".incoming.")
            os.close(fd)
            try:
                shutil.copyfile(source, tmp)
                os.chmod(tmp, 0o444)
                os.replace(tmp, dest)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
        except OSError as exc:
            raise InfrastructureError(f"cannot write evidence store {self.root}: {exc}") from exc
        return True

    def put_bytes(self, data: bytes, sha256: str) -> bool:
        dest = self.path(sha256)
        if dest.is_file():
            return False
        from ordinance._files import atomic_write_bytes

        try:
            atomic_write_bytes(dest, data, mode=0o444)
        except OSError as exc:
            raise InfrastructureError(f"cannot write evidence store {self.root}: {exc}") from exc
        return True

    def remove(self, sha256: str) -> None:
        """Undo a ``put`` whose registration failed (never used on referenced blobs)."""
        self.path(sha256).unlink(missing_ok=True)
