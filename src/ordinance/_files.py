"""Small file helpers: safe reads of untrusted paths, atomic writes, private-key files.

Every file Ordinance reads on a user's behalf (manifests and what they reference, policy
packs, rosters, waivers, config, bundles, checkpoints, keys) goes through
:func:`open_regular` / :func:`read_limited`: regular files only (a FIFO, a device, a
directory or a symlink loop is refused at once, never read or waited on), with a size
limit, and errors that name the path and the problem but never echo what the file holds.
:func:`confined` keeps a reference inside a base directory (no absolute paths, no ``..``,
no symlink leading out).

Written files respect the process umask: a report is ``0644`` under the usual ``022``
umask and ``0600`` under ``077``; keys are always ``0600``.
"""

from __future__ import annotations

import errno
import os
import stat
import tempfile
from pathlib import Path
from typing import BinaryIO

from ordinance.errors import InputError

#: YAML/JSON documents (manifests, policies, rosters, waivers, config): far above any real one.
DOCUMENT_LIMIT = 8 * 1024 * 1024
#: small single-value files: verifier keys, checkpoints, signatures.
SMALL_LIMIT = 1024 * 1024
#: one evidence file (a prediction table, a report); model files themselves are not limited.
EVIDENCE_LIMIT = 4 * 1024 * 1024 * 1024


class UnsafeFileError(InputError):
    """A path that cannot be read as a (bounded, regular, confined) input file: exit 2."""

    def __init__(self, path: Path | str, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a directory, expected a file"
    if stat.S_ISFIFO(mode):
        return "not a regular file (a FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "not a regular file (a device)"
    if stat.S_ISSOCK(mode):
        return "not a regular file (a socket)"
    return "not a regular file"


def _open_problem(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "file not found"
    if exc.errno == errno.ELOOP:
        return "symbolic link loop"
    if exc.errno == errno.EISDIR:
        return "is a directory, expected a file"
    return f"cannot read: {exc.strerror or type(exc).__name__}"


def open_regular(path: Path | str) -> BinaryIO:
    """Open ``path`` for reading if it is a regular file (after following symlinks).

    Opened non-blocking, so a FIFO or a device is seen and refused instead of waited on.
    Raises :class:`UnsafeFileError` (exit 2) naming the path and the problem.
    """
    flags = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_CLOEXEC", 0)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        raise UnsafeFileError(path, _open_problem(exc)) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise UnsafeFileError(path, _kind(mode))
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def check_regular(path: Path | str, *, limit: int | None = None) -> int:
    """Check ``path`` opens as a regular file (within ``limit`` bytes); return its size."""
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
    if limit is not None and size > limit:
        raise UnsafeFileError(path, _too_large(size, limit))
    return size


def read_limited(path: Path | str, limit: int = DOCUMENT_LIMIT) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes."""
    with open_regular(path) as f:
        size = os.fstat(f.fileno()).st_size
        if size > limit:
            raise UnsafeFileError(path, _too_large(size, limit))
        try:
            data = f.read(limit + 1)
        except OSError as exc:
            raise UnsafeFileError(path, _open_problem(exc)) from None
    if len(data) > limit:  # it grew while we read it
        raise UnsafeFileError(path, _too_large(len(data), limit))
    return data


def read_text_limited(path: Path | str, limit: int = SMALL_LIMIT) -> str:
    """:func:`read_limited` decoded as UTF-8 (a binary file is an input error, not a crash)."""
    data = read_limited(path, limit)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UnsafeFileError(path, f"not UTF-8 text (byte {exc.start})") from None


def _too_large(size: int, limit: int) -> str:
    return f"too large ({size:,} bytes; the limit is {limit:,})"


def confined(base: Path, ref: str) -> Path:
    """``base / ref``, refused unless it stays inside ``base`` once symlinks are resolved.

    ``ref`` must be relative and free of ``..``; the path it names must exist. Raises
    :class:`UnsafeFileError` with ``ref`` (not the resolved path) in the message.
    """
    if not ref or "\x00" in ref:
        raise UnsafeFileError(ref or "''", "empty or invalid path")
    p = Path(ref)
    if p.is_absolute() or ref.startswith("~"):
        raise UnsafeFileError(ref, "must be a path relative to the manifest's directory")
    if ".." in p.parts:
        raise UnsafeFileError(ref, "must not contain '..' (stay inside the manifest's directory)")
    try:
        root = os.path.realpath(base, strict=True)
        real = os.path.realpath(base / p, strict=True)
    except OSError as exc:
        raise UnsafeFileError(ref, _open_problem(exc)) from None
    if os.path.commonpath([root, real]) != root:
        raise UnsafeFileError(ref, "a symbolic link leads outside the manifest's directory")
    return base / p


def current_umask() -> int:
    """The process umask, read without changing it where the platform allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    old = os.umask(0o022)  # pragma: no cover - non-Linux fallback
    os.umask(old)  # pragma: no cover
    return old  # pragma: no cover


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = 0o666) -> None:
    """Write ``data`` to ``path`` so readers see the old file or the new one, never half.

    The file gets ``mode`` less the process umask, like any file a program creates.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, mode & ~current_umask())
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str, *, mode: int = 0o666) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode)


def write_private(path: Path, data: bytes) -> None:
    """Create a secret file readable by its owner only (0600), never overwriting."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
