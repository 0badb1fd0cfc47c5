"""Ordinance's errors: one root, a family per exit code, one handler in the CLI.

Every error carries a one-line, user-facing ``message`` and the process ``exit_code``
the CLI returns for it. The CLI catches :class:`OrdinanceError` once and prints the
message; anything else is a bug and exits 3.

Hierarchy::

    OrdinanceError                     (exit 3 unless a family says otherwise)
    ├── InputError                  exit 2  bad manifest/policy/table/key, unknown model, usage
    │   ├── ManifestError           a version manifest that does not parse or validate
    │   ├── PolicyLoadError         a policy pack that does not parse or validate
    │   ├── NotFoundError           an unknown model, version, evidence or log entry
    │   ├── UntrustedTypeError      a serialized model with types outside the trusted list
    │   ├── ConflictError           the record already exists with other content
    │   └── AuthError               a server refused the credentials (401) or the scope (403)
    ├── CheckFailed                 exit 1  a blocking policy rule failed / promotion denied
    ├── VerificationError           exit 1  a log, signature, proof or attestation did not verify
    │   └── IndexMismatch           an index row disagrees with the log (ordinance.ledger)
    └── InfrastructureError         exit 3  database unreachable, workspace missing, I/O failure
        └── MissingExtraError       exit 3  an optional extra (e.g. ``ordinance[pdf]``) is not installed
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_FAILURE = 1
EXIT_USAGE = 2
EXIT_INTERNAL = 3


class OrdinanceError(Exception):
    """Root of every error Ordinance raises on purpose."""

    exit_code: int = EXIT_INTERNAL

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class InputError(OrdinanceError):
    """Bad input from the user: exit 2."""

    exit_code = EXIT_USAGE


@dataclass(frozen=True)
class Location:
    """Where in a file a problem is: 1-based line and column, and the field path."""

    file: str
    line: int | None = None
    column: int | None = None
    field: str | None = None

    def render(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.column is not None:
                where += f":{self.column}"
        return where


class LocatedInputError(InputError):
    """An input error that points into a file: ``file:line:col: field: problem``."""

    def __init__(self, location: Location, problem: str) -> None:
        self.location = location
        self.problem = problem
        field = f" {location.field}:" if location.field else ""
        super().__init__(f"{location.render()}:{field} {problem}")


class ManifestError(LocatedInputError):
    """A version manifest that does not parse or validate."""


class PolicyLoadError(LocatedInputError):
    """A policy pack (or waiver file, roster) that does not parse or validate."""


class NotFoundError(InputError):
    """An unknown model, version, evidence item or log entry."""


class UntrustedTypeError(InputError):
    """A serialized model that contains types outside the trusted list."""


class ConflictError(InputError):
    """The record already exists with different content."""


class AuthError(InputError):
    """A server request without valid credentials (401) or with too little scope (403)."""

    def __init__(self, message: str, *, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


class CheckFailed(OrdinanceError):
    """A blocking policy rule failed, or a promotion was denied: exit 1."""

    exit_code = EXIT_FAILURE


class VerificationError(OrdinanceError):
    """A log, signature, proof or attestation failed to verify: exit 1."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, index: int | None = None) -> None:
        self.index = index
        super().__init__(message if index is None else f"entry {index}: {message}")


class InfrastructureError(OrdinanceError):
    """The database, file system or workspace failed us: exit 3."""

    exit_code = EXIT_INTERNAL


class MissingExtraError(InfrastructureError):
    """An optional extra is not installed."""

    def __init__(self, extra: str, module: str) -> None:
        super().__init__(
            f"this needs the optional '{module}' package: pip install 'ordinance[{extra}]'"
        )
