"""The web console: server-rendered pages for risk officers, validators and auditors.

:func:`console_router` returns a FastAPI ``APIRouter`` that ``ordinance serve`` mounts
under ``/console``. Pages are Jinja templates (autoescaped, strict), styled and scripted
only by files served from ``/console/static`` (a strict CSP forbids anything inline or
remote). Read-only pages work without JavaScript; the one thing that needs it is signing,
because the approver's private key lives in their browser (a non-extractable WebCrypto
Ed25519 key in IndexedDB) and never reaches the server.

Login takes an API token of the server's identities; the server keeps the session (the
cookie is a random id: ``HttpOnly; Secure; SameSite=Strict``). Every form carries a CSRF
token and every state-changing request must come from this origin.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ordinance.server.console._routes import Authenticated, Principal, console_router
from ordinance.server.console._security import SessionStore

if TYPE_CHECKING:
    from fastapi import FastAPI

__all__ = ["Authenticated", "Principal", "SessionStore", "console_router", "mount_console"]


def mount_console(app: FastAPI) -> None:
    """Mount the console on the server's app, logging in with the server's identities
    (``app.state.authenticator``: API tokens and OIDC ID tokens)."""
    from ordinance.errors import OrdinanceError

    auth = app.state.authenticator

    def login(credential: str) -> Authenticated | None:
        try:
            principal: Authenticated = auth.principal_for(credential)
        except OrdinanceError:
            return None
        return principal

    router = console_router(app.state.workspace, login, clock=app.state.clock)
    app.state.console_cache = router.console_cache  # type: ignore[attr-defined]
    app.include_router(router)
