"""Sessions, CSRF tokens and the security headers of every console response.

* **Sessions** live on the server (:class:`SessionStore`): the cookie holds only a random
  256-bit id (``HttpOnly; Secure; SameSite=Strict; Path=/console``). Logging out or
  restarting the server ends every session; a session also ends when the token it was opened
  with stops authenticating (checked on every request by the caller).
* **CSRF**: a synchronizer token per session, compared in constant time. Forms carry it in
  a hidden ``csrf`` field; the signing script sends it in an ``X-CSRF-Token`` header. Every
  state-changing request must also come from this origin (``Origin``/``Sec-Fetch-Site``).
* **Headers**: a strict Content-Security-Policy (``default-src 'self'``, no inline script or
  style, no framing, forms only to this origin) and the usual hardening headers.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Protocol

__all__ = [
    "CONSOLE_CSP",
    "DOCUMENT_CSP",
    "SESSION_COOKIE",
    "Session",
    "SessionStore",
    "csrf_ok",
    "same_origin",
    "security_headers",
]

SESSION_COOKIE = "ordinance_session"

#: The console's pages: only this origin's scripts, styles and images; nothing inline.
CONSOLE_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "frame-ancestors 'none'; form-action 'self'"
)
#: Rendered documents (model cards, reports): no script at all, their own inline styles,
#: sandboxed so that they run in an opaque origin even if opened directly.
DOCUMENT_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'none'; sandbox"
)


class Headers(Protocol):
    def __setitem__(self, key: str, value: str) -> None: ...
    def setdefault(self, key: str, value: str) -> str: ...


def security_headers(headers: Headers, *, csp: str = CONSOLE_CSP) -> None:
    """Set the CSP and hardening headers on a response's headers."""
    headers["Content-Security-Policy"] = csp
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Cross-Origin-Opener-Policy"] = "same-origin"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    headers.setdefault("Cache-Control", "no-store")


@dataclass
class Session:
    """One logged-in browser: who it is, its CSRF token, when it ends."""

    id: str
    identity: str
    can_sign: bool
    #: the login credential, kept in server memory only, to re-check it on every request
    #: (a revoked or expired token ends its sessions at once)
    credential: str = field(repr=False)
    csrf: str
    expires_at: datetime
    created_at: datetime
    flash: list[str] = field(default_factory=list)


class SessionStore:
    """Server-side sessions keyed by a random id (thread-safe; lost on restart by design)."""

    def __init__(
        self,
        *,
        lifetime: timedelta = timedelta(hours=8),
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self._lifetime = lifetime
        self._clock = clock or (lambda: datetime.now(UTC))
        self._lock = threading.Lock()
        self._sessions: dict[str, Session] = {}

    @property
    def lifetime(self) -> timedelta:
        return self._lifetime

    def open(self, identity: str, credential: str, *, can_sign: bool = True) -> Session:
        now = self._clock()
        s = Session(
            id=secrets.token_urlsafe(32),
            identity=identity,
            can_sign=can_sign,
            credential=credential,
            csrf=secrets.token_urlsafe(32),
            expires_at=now + self._lifetime,
            created_at=now,
        )
        with self._lock:
            self._prune(now)
            self._sessions[_key(s.id)] = s
        return s

    def get(self, session_id: str | None) -> Session | None:
        if not session_id or len(session_id) > 128:
            return None
        now = self._clock()
        with self._lock:
            s = self._sessions.get(_key(session_id))
            if s is None:
                return None
            if s.expires_at <= now:
                del self._sessions[_key(session_id)]
                return None
            return s

    def close(self, session_id: str | None) -> None:
        if session_id:
            with self._lock:
                self._sessions.pop(_key(session_id), None)

    def _prune(self, now: datetime) -> None:
        for k in [k for k, s in self._sessions.items() if s.expires_at <= now]:
            del self._sessions[k]


def _key(session_id: str) -> str:
    # the store is keyed by a digest, so a timing side channel on dict lookups reveals nothing
    return hashlib.sha256(session_id.encode()).hexdigest()


def csrf_ok(session: Session, presented: str | None) -> bool:
    return bool(presented) and hmac.compare_digest(session.csrf.encode(), str(presented).encode())


def same_origin(headers: object, host: str) -> bool:
    """A state-changing request must come from this origin: ``Sec-Fetch-Site`` when the
    browser sends it, else ``Origin``; requests with neither (non-browser clients holding
    the session cookie and the CSRF token) are let through to the CSRF check."""
    get = getattr(headers, "get", None)
    if get is None:
        return False
    site = get("sec-fetch-site")
    if site is not None:
        return str(site) in ("same-origin", "none")
    origin = get("origin")
    if origin is None or origin == "null":
        return origin is None
    netloc = str(origin).split("://", 1)[-1]
    return netloc == host
