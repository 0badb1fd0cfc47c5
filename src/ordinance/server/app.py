"""The ASGI app: :func:`create_app` builds it from an opened workspace.

The server owns the database, the evidence store and the log signer; routes are thin over
the core (the same functions the local CLI calls) and every write goes through the same
one-transaction paths. Errors are :class:`ordinance.errors.OrdinanceError` families turned
into JSON ``{"error": {"type", "message", "exit_code"}}`` with an HTTP status, so the remote
CLI exits with the same code and message as a local run.

Other routers (the web console) mount on the same app and reuse
``app.state.authenticator`` and :func:`ordinance.server.auth.require`.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ordinance.errors import (
    AuthError,
    CheckFailed,
    ConflictError,
    InfrastructureError,
    InputError,
    NotFoundError,
    OrdinanceError,
    VerificationError,
)
from ordinance.tokens import TokenStore

if TYPE_CHECKING:
    from ordinance.workspace import Workspace

__all__ = ["API_VERSION", "create_app", "openapi_document"]

API_VERSION = "1"

#: Request threads per server process (sync routes and the core's blocking calls). With the
#: GIL more threads do not add throughput; they add connections the pool must hold.
DEFAULT_THREADS = 8


def _status(exc: OrdinanceError) -> int:
    from ordinance.storage import DigestMismatch

    if isinstance(exc, AuthError):
        return exc.status
    if isinstance(exc, DigestMismatch):
        return 422
    if isinstance(exc, NotFoundError):
        return 404
    if isinstance(exc, ConflictError):
        return 409
    if isinstance(exc, InputError):
        return 400
    if isinstance(exc, VerificationError | CheckFailed):
        return 403
    if isinstance(exc, InfrastructureError):
        return 503
    return 500


def create_app(
    ws: Workspace,
    *,
    clock: Callable[[], datetime] | None = None,
    spool: Path | None = None,
    threads: int | None = None,
) -> FastAPI:
    """The API for ``ws`` (opened, schema current, log signer loaded by the caller).

    ``clock`` is injected (tests pin time); ``spool`` is where uploads are streamed while
    they are hashed (default ``<home>/spool``, emptied at start: a half-received upload of
    a killed server is never evidence).

    ``threads`` (default ``server.threads`` in the config, else 8) bounds the requests
    that run blocking code at once; more wait their turn. The database pool is sized to
    three connections per thread: a guarded read holds its index connection while the
    log check takes another, and a pool smaller than that could fill with threads that
    each wait for a second connection (under load every read then failed with 503).
    """
    from ordinance.server.auth import Authenticator

    app = _new_app()
    n = int(threads or ws.config.server.get("threads", DEFAULT_THREADS))
    if n < 1:
        raise InputError(f"server.threads: at least 1, not {n}")
    app.state.threads = n
    ws.close()  # re-created on first use with a pool sized for n threads
    ws.db_pool = 3 * n
    now = clock or (lambda: datetime.now(UTC))
    oidc = None
    oidc_cfg = ws.config.server.get("oidc")
    if oidc_cfg:
        from ordinance.server.oidc import OidcVerifier

        oidc = OidcVerifier.from_config(oidc_cfg)
    app.state.workspace = ws
    app.state.clock = now
    from ordinance.server._cache import ClearOnWrite, ReadCache

    app.state.reads = ReadCache(ttl=float(ws.config.server.get("read_cache_seconds", 1.0)))
    app.add_middleware(ClearOnWrite, cache=app.state.reads, threads=n)
    app.state.authenticator = Authenticator(TokenStore(ws.engine()), oidc, now)
    spool_dir = spool or ws.home / "spool"
    shutil.rmtree(spool_dir, ignore_errors=True)
    spool_dir.mkdir(parents=True, exist_ok=True)
    app.state.spool = spool_dir
    app.state.max_upload = int(ws.config.server.get("max_upload_bytes", 1 << 40))
    from ordinance.server.console import mount_console

    mount_console(app)  # the web console's pages under /console
    return app


def _new_app() -> FastAPI:
    """The app with its routes and error handler, no state (also used for the OpenAPI doc)."""
    from ordinance.server import api

    app = FastAPI(
        title="Ordinance",
        version=API_VERSION,
        summary="Policy-gated ML model governance with a signed audit log",
        description=(
            "The team server of Ordinance: one log key, one evidence store, many clients. "
            "Authenticate with `Authorization: Bearer <token>` (an API token from "
            "`ordinance token create`, or an OIDC ID token from a configured CI issuer). "
            'Errors are `{"error": {"type", "message", "exit_code"}}`.'
        ),
    )

    @app.exception_handler(OrdinanceError)
    async def _ordinance_error(request: Request, exc: OrdinanceError) -> JSONResponse:
        body: dict[str, Any] = {
            "error": {
                "type": type(exc).__name__,
                "message": exc.message,
                "exit_code": exc.exit_code,
            }
        }
        headers = {"WWW-Authenticate": "Bearer"} if _status(exc) == 401 else None
        return JSONResponse(body, status_code=_status(exc), headers=headers)

    app.include_router(api.router)
    return app


def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of the API (published as ``docs/openapi.json``)."""
    doc: dict[str, Any] = _new_app().openapi()
    return doc
