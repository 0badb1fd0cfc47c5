"""Who is asking: API tokens and OIDC ID tokens become a :class:`Principal`.

:class:`Authenticator` is the one place that turns a request's credentials into a principal.
It is reusable by any router mounted on the app (the console adds a session cookie as one
more credential source by subclassing :meth:`Authenticator.credentials`). Routes declare the
capability they need with :func:`require`::

    @router.post("/v1/promotions")
    def promote(..., who: Principal = Depends(require("promote"))): ...

Capabilities per scope are listed in :mod:`ordinance.tokens`.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from ordinance.errors import AuthError
from ordinance.tokens import CAPABILITIES, ApiToken, TokenStore

if TYPE_CHECKING:
    from ordinance.server.oidc import OidcVerifier

__all__ = ["Authenticator", "Principal", "require"]


@dataclass(frozen=True)
class Principal:
    """An authenticated caller: an identity (a roster member id, or a CI identity), the
    scope its credential grants, and how it was authenticated."""

    identity: str
    scope: str
    via: str  # "token" | "oidc" | "session"
    credential_id: str = ""

    @property
    def capabilities(self) -> frozenset[str]:
        return CAPABILITIES.get(self.scope, frozenset())

    def can(self, capability: str) -> bool:
        return capability in self.capabilities


class Authenticator:
    """Bearer API tokens (``ord_…``) and, when issuers are configured, OIDC ID tokens.

    API requests reuse a token's row read less than :attr:`TOKEN_CACHE_SECONDS` ago (keyed
    by the SHA-256 of the whole token, never the token itself): a revocation or a changed
    row reaches the API within that time, an expiry is checked against the clock on every
    request. :meth:`principal_for` (the console's login and session checks) always reads.
    """

    #: how long an API token's row is reused without reading it again
    TOKEN_CACHE_SECONDS = 1.0
    _CACHE_MAX = 4096

    def __init__(
        self,
        tokens: TokenStore,
        oidc: OidcVerifier | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.tokens = tokens
        self.oidc = oidc
        self.clock = clock
        self._seen: dict[bytes, tuple[float, ApiToken]] = {}
        self._lock = threading.Lock()

    def forget(self) -> None:
        """Drop every cached token row (e.g. after revoking one in this process)."""
        with self._lock:
            self._seen.clear()

    def _recent(self, credential: str) -> ApiToken | None:
        """The token's row when read less than :attr:`TOKEN_CACHE_SECONDS` ago and still
        active now; no I/O."""
        hit = self._seen.get(hashlib.sha256(credential.encode()).digest())
        if hit is None or time.monotonic() - hit[0] >= self.TOKEN_CACHE_SECONDS:
            return None
        return hit[1] if hit[1].state(self.clock()) == "active" else None

    def cached(self, request: Request) -> Principal | None:
        """The principal of ``request`` if its API token was read recently (no I/O)."""
        cred = self.credentials(request)
        if cred is None or not cred.startswith("ord_"):
            return None
        tok = self._recent(cred)
        return None if tok is None else Principal(tok.identity, tok.scope, "token", tok.token_id)

    def _api_token(self, credential: str) -> ApiToken:
        tok_hit = self._recent(credential)
        if tok_hit is not None:
            return tok_hit
        key = hashlib.sha256(credential.encode()).digest()
        now = time.monotonic()
        tok = self.tokens.authenticate(credential, now=self.clock())
        with self._lock:
            if len(self._seen) >= self._CACHE_MAX:
                self._seen.clear()
            self._seen[key] = (now, tok)
        return tok

    def credentials(self, request: Request) -> str | None:
        """The raw credential of ``request`` (override to add session cookies)."""
        header = request.headers.get("authorization", "")
        scheme, _, value = header.partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return None
        return value.strip()

    def authenticate(self, request: Request) -> Principal:
        cred = self.credentials(request)
        if cred is None:
            raise AuthError("authentication required: send 'Authorization: Bearer <token>'")
        if cred.startswith("ord_"):
            tok = self._api_token(cred)
            return Principal(tok.identity, tok.scope, "token", tok.token_id)
        return self.principal_for(cred)

    def principal_for(self, credential: str) -> Principal:
        if credential.startswith("ord_"):
            tok = self.tokens.authenticate(credential, now=self.clock())
            return Principal(tok.identity, tok.scope, "token", tok.token_id)
        if credential.count(".") == 2 and self.oidc is not None:
            identity, scope, subject = self.oidc.verify(credential, now=self.clock())
            return Principal(identity, scope, "oidc", subject)
        raise AuthError("unrecognized credential: expected an ord_ API token or an OIDC ID token")


def require(capability: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the request's principal, which must hold ``capability``.

    An API token read less than a second ago is answered without leaving the event loop;
    anything that may do I/O (a token's row, an OIDC key set) runs in the thread pool.
    """

    async def dependency(request: Request) -> Principal:
        auth: Authenticator = request.app.state.authenticator
        who = auth.cached(request)
        if who is None:
            who = await run_in_threadpool(auth.authenticate, request)
        if not who.can(capability):
            raise AuthError(
                f"{who.identity} ({who.scope} {who.via}) may not {_VERBS.get(capability, capability)}",
                status=403,
            )
        request.state.principal = who
        return who

    dependency.__name__ = f"require_{capability}"
    return dependency


_VERBS = {
    "read": "read",
    "upload": "upload evidence",
    "register": "register versions",
    "attach": "attach evidence",
    "check": "run checks",
    "promote": "request promotions",
    "sign": "submit approvals or waivers",
    "roster": "change the roster",
    "log": "append to the log",
}
