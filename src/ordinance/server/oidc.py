"""OIDC ID tokens from CI (GitHub Actions, GitLab) verified against an issuer's JWKS.

Configured under ``server.oidc`` in ``config.yaml``::

    server:
      oidc:
        - issuer: https://token.actions.githubusercontent.com
          audience: ordinance.example.org
          identity: "github:{repository}"     # formatted with the token's claims
          scope: ci                           # ci or reader only
          claims: {repository_owner: acme}    # every listed claim must match exactly

The JWKS location comes from the issuer's ``/.well-known/openid-configuration`` (or
``jwks_uri`` when given). Signatures (RS256/ES256), ``iss``, ``aud``, ``exp``, ``iat`` and
``nbf`` are checked by PyJWT with 60 s leeway; keys are cached and refetched on an unknown
``kid``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ordinance.errors import AuthError, InputError

__all__ = ["IssuerConfig", "OidcVerifier"]

_ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384"]


class IssuerConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    issuer: str = Field(min_length=1)
    audience: str = Field(min_length=1)
    identity: str = "oidc:{sub}"
    scope: Literal["ci", "reader"] = "ci"
    claims: dict[str, str] = Field(default_factory=dict)
    jwks_uri: str | None = None


@dataclass
class OidcVerifier:
    issuers: Sequence[IssuerConfig]
    timeout: float = 5.0
    _jwks: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_config(cls, items: Sequence[Mapping[str, Any]]) -> OidcVerifier:
        try:
            return cls([IssuerConfig.model_validate(i) for i in items])
        except ValueError as exc:
            raise InputError(f"config.yaml: server.oidc: {exc}") from None

    def _client(self, cfg: IssuerConfig) -> Any:
        import jwt

        client = self._jwks.get(cfg.issuer)
        if client is None:
            uri = cfg.jwks_uri or self._discover(cfg.issuer)
            client = jwt.PyJWKClient(uri, cache_keys=True, lifespan=3600, timeout=int(self.timeout))
            self._jwks[cfg.issuer] = client
        return client

    def _discover(self, issuer: str) -> str:
        import httpx

        url = issuer.rstrip("/") + "/.well-known/openid-configuration"
        try:
            resp = httpx.get(url, timeout=self.timeout)
            resp.raise_for_status()
            return str(resp.json()["jwks_uri"])
        except (httpx.HTTPError, KeyError, ValueError) as exc:
            raise AuthError(f"cannot discover the JWKS of {issuer}: {exc}", status=503) from None

    def verify(self, token: str, *, now: datetime) -> tuple[str, str, str]:
        """(identity, scope, subject) of a valid ID token; :class:`AuthError` otherwise."""
        import jwt

        try:
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise AuthError(f"malformed ID token: {exc}") from None
        iss = unverified.get("iss")
        cfg = next((c for c in self.issuers if c.issuer == iss), None)
        if cfg is None:
            raise AuthError(f"ID token issuer {iss!r} is not trusted by this server")
        try:
            key = self._client(cfg).get_signing_key_from_jwt(token).key
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=_ALGORITHMS,
                audience=cfg.audience,
                issuer=cfg.issuer,
                leeway=60,
                options={"require": ["exp", "iat", "iss", "aud", "sub"], "verify_exp": False},
            )
        except jwt.PyJWKClientError as exc:
            raise AuthError(f"ID token key not found at {cfg.issuer}: {exc}") from None
        except jwt.PyJWTError as exc:
            raise AuthError(f"ID token rejected: {exc}") from None
        # expiry against the injected clock (PyJWT would read the wall clock)
        exp = claims.get("exp")
        if not isinstance(exp, int | float) or now.timestamp() > float(exp) + 60:
            raise AuthError("ID token expired")
        for name, expected in cfg.claims.items():
            if str(claims.get(name)) != expected:
                raise AuthError(f"ID token claim {name}={claims.get(name)!r} is not {expected!r}")
        try:
            identity = cfg.identity.format(**{k: str(v) for k, v in claims.items()})
        except (KeyError, IndexError, ValueError) as exc:
            raise AuthError(f"ID token lacks the claim {exc} named in the identity") from None
        return identity, cfg.scope, str(claims["sub"])
