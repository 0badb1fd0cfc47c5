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

from ordinance.server.console._routes import Principal, console_router
from ordinance.server.console._security import SessionStore

__all__ = ["Principal", "SessionStore", "console_router"]
