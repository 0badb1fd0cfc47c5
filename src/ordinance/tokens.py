"""API tokens for ``ordinance serve``: per identity, hashed at rest, expiring, revocable.

A token string is ``ord_<id>_<secret>``: ``id`` (12 hex digits) selects the row, ``secret``
(43 url-safe base64 characters, 256 bits) is checked against its SHA-256, stored in the
database, with a constant-time comparison. The plain token is shown once, at creation.

Each token names an *identity* and a *scope*; the scope bounds what the token may ask the
server to do, whatever the roster says (the roster then decides whether an approval counts):

========  ================================================================================
scope     may
========  ================================================================================
reader    read: models, versions, evidence, history, the log
ci        reader + upload evidence, register, attach, check, request a promotion
member    reader + upload, check, and submit approvals, waivers and revocations that the
          member signed with their own key (the signer must be the token's identity)
admin     everything, including roster changes and batched log appends
========  ================================================================================

The table is created by migration 0004 through :func:`create_schema`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from sqlalchemy import Column, Connection, Engine, MetaData, String, Table, insert, select, update
from sqlalchemy.exc import SQLAlchemyError

from ordinance.errors import AuthError, InfrastructureError, InputError, NotFoundError

__all__ = [
    "SCOPES",
    "ApiToken",
    "AuthError",
    "Scope",
    "TokenStore",
    "create_schema",
    "drop_schema",
]

Scope = Literal["reader", "ci", "member", "admin"]
SCOPES: tuple[Scope, ...] = ("reader", "ci", "member", "admin")

#: what each scope may do; the server checks one of these capabilities per route
CAPABILITIES: dict[str, frozenset[str]] = {
    "reader": frozenset({"read"}),
    "ci": frozenset({"read", "upload", "register", "attach", "check", "promote"}),
    "member": frozenset({"read", "upload", "check", "sign"}),
    "admin": frozenset(
        {"read", "upload", "register", "attach", "check", "promote", "sign", "roster", "log"}
    ),
}

_PREFIX = "ord_"
_TOKEN_RE = re.compile(r"^ord_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_IDENTITY_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:@/-]{0,127}$")

metadata = MetaData()
tokens_t = Table(
    "ordinance_api_token",
    metadata,
    Column("token_id", String(12), primary_key=True),
    Column("identity", String(128), nullable=False, index=True),
    Column("scope", String(16), nullable=False),
    Column("secret_sha256", String(64), nullable=False),
    Column("description", String(512), nullable=False, default=""),
    Column("created_at", String(32), nullable=False),
    Column("expires_at", String(32), nullable=True),
    Column("revoked_at", String(32), nullable=True),
)


def create_schema(conn: Connection) -> None:
    metadata.create_all(conn)


def drop_schema(conn: Connection) -> None:
    metadata.drop_all(conn)


def _ts(t: datetime) -> str:
    return t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _parse_ts(s: str | None) -> datetime | None:
    if s is None:
        return None
    return datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("ascii")).hexdigest()


@dataclass(frozen=True)
class ApiToken:
    """A token's stored facts (never the secret)."""

    token_id: str
    identity: str
    scope: str
    description: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None

    @property
    def capabilities(self) -> frozenset[str]:
        return CAPABILITIES.get(self.scope, frozenset())

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"

    def to_dict(self, now: datetime | None = None) -> dict[str, Any]:
        return {
            "id": self.token_id,
            "identity": self.identity,
            "scope": self.scope,
            "description": self.description,
            "created_at": _ts(self.created_at),
            "expires_at": None if self.expires_at is None else _ts(self.expires_at),
            "revoked_at": None if self.revoked_at is None else _ts(self.revoked_at),
            "state": self.state(now or datetime.now(UTC)),
        }


def _row(r: Any) -> ApiToken:
    created = _parse_ts(r.created_at)
    assert created is not None
    return ApiToken(
        token_id=r.token_id,
        identity=r.identity,
        scope=r.scope,
        description=r.description or "",
        created_at=created,
        expires_at=_parse_ts(r.expires_at),
        revoked_at=_parse_ts(r.revoked_at),
    )


@dataclass(frozen=True)
class TokenStore:
    """Tokens in the workspace database. The constructor does no I/O."""

    engine: Engine

    def create(
        self,
        identity: str,
        scope: str,
        *,
        expires_in: timedelta | None = timedelta(days=90),
        description: str = "",
        now: datetime | None = None,
    ) -> tuple[str, ApiToken]:
        """A new token: returns the plain token string (shown once) and its stored facts."""
        if not _IDENTITY_RE.match(identity):
            raise InputError(f"identity {identity!r}: letters, digits and ._:@/- only")
        if scope not in SCOPES:
            raise InputError(f"scope {scope!r}: one of {', '.join(SCOPES)}")
        now = now or datetime.now(UTC)
        token_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        tok = ApiToken(
            token_id=token_id,
            identity=identity,
            scope=scope,
            description=description[:512],
            created_at=now,
            expires_at=None if expires_in is None else now + expires_in,
            revoked_at=None,
        )
        values = {
            "token_id": token_id,
            "identity": identity,
            "scope": scope,
            "secret_sha256": _hash(secret),
            "description": tok.description,
            "created_at": _ts(now),
            "expires_at": None if tok.expires_at is None else _ts(tok.expires_at),
            "revoked_at": None,
        }
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(tokens_t).values(**values))
        except SQLAlchemyError as exc:
            raise InfrastructureError(f"cannot store the token: {_first_line(exc)}") from exc
        return f"{_PREFIX}{token_id}_{secret}", tok

    def list(self) -> list[ApiToken]:
        try:
            with self.engine.connect() as conn:
                rows = conn.execute(select(tokens_t).order_by(tokens_t.c.created_at)).all()
        except SQLAlchemyError as exc:
            raise InfrastructureError(f"cannot read tokens: {_first_line(exc)}") from exc
        return [_row(r) for r in rows]

    def revoke(self, token_id: str, *, now: datetime | None = None) -> ApiToken:
        now = now or datetime.now(UTC)
        try:
            with self.engine.begin() as conn:
                conn.execute(
                    update(tokens_t)
                    .where(tokens_t.c.token_id == token_id, tokens_t.c.revoked_at.is_(None))
                    .values(revoked_at=_ts(now))
                )
                row = conn.execute(select(tokens_t).where(tokens_t.c.token_id == token_id)).first()
        except SQLAlchemyError as exc:
            raise InfrastructureError(f"cannot revoke the token: {_first_line(exc)}") from exc
        if row is None:
            raise NotFoundError(f"no token with id {token_id!r}")
        return _row(row)

    def authenticate(self, token: str, *, now: datetime | None = None) -> ApiToken:
        """The token's facts if ``token`` is valid now; :class:`AuthError` otherwise.

        The secret is compared by SHA-256 in constant time; an unknown id, a wrong secret,
        an expired and a revoked token are each refused with their own message (none of
        them reveals anything a holder of the token does not already know).
        """
        m = _TOKEN_RE.match(token.strip())
        if m is None:
            raise AuthError("malformed API token (expected ord_<id>_<secret>)")
        token_id, secret = m.groups()
        try:
            with self.engine.connect() as conn:
                row = conn.execute(select(tokens_t).where(tokens_t.c.token_id == token_id)).first()
        except SQLAlchemyError as exc:
            raise InfrastructureError(f"cannot read tokens: {_first_line(exc)}") from exc
        # compare even when the id is unknown, so timing does not tell ids apart
        stored = row.secret_sha256 if row is not None else "0" * 64
        ok = hmac.compare_digest(stored.encode(), _hash(secret).encode())
        if row is None or not ok:
            raise AuthError("invalid API token")
        tok = _row(row)
        state = tok.state(now or datetime.now(UTC))
        if state == "revoked":
            raise AuthError(f"API token {token_id} was revoked")
        if state == "expired":
            assert tok.expires_at is not None
            raise AuthError(f"API token {token_id} expired at {_ts(tok.expires_at)}")
        return tok


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
