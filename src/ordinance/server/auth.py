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

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from fastapi import Request

from ordinance.errors import AuthError
from ordinance.tokens import CAPABILITIES, TokenStore

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
    """Bearer API tokens (``ord_…``) and, when issuers are configured, OIDC ID tokens."""

    def __init__(
        self,
        tokens: TokenStore,
        oidc: OidcVerifier | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.tokens = tokens
        self.oidc = oidc
        self.clock = clock

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
        return self.principal_for(cred)

    def principal_for(self, credential: str) -> Principal:
        if credential.startswith("ord_"):
            tok = self.tokens.authenticate(credential, now=self.clock())
            return Principal(tok.identity, tok.scope, "token", tok.token_id)
        if credential.count(".") == 2 and self.oidc is not None:
            identity, scope, subject = self.oidc.verify(credential, now=self.clock())
            return Principal(identity, scope, "oidc", subject)
        raise AuthError("unrecognized credential: expected an ord_ API token or an OIDC ID token")


def require(capability: str) -> Callable[[Request], Principal]:
    """A FastAPI dependency: the request's principal, which must hold ``capability``."""

    def dependency(request: Request) -> Principal:
        auth: Authenticator = request.app.state.authenticator
        who = auth.authenticate(request)
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
