"""``ordinance serve`` and ``ordinance token create|list|revoke``."""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime, timedelta

import click

from ordinance.errors import InputError, MissingExtraError

from ._common import Ctx, emit_json, format_option, info, pass_ctx


def register(cli: click.Group) -> None:
    @cli.command("serve")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
    @click.option("--port", default=8787, show_default=True, type=click.IntRange(0, 65535))
    @click.option(
        "--workers",
        default=1,
        show_default=True,
        type=click.IntRange(1, 64),
        help="Server processes (one per core); they share the database, evidence and log key.",
    )
    @click.option(
        "--log-level",
        default="warning",
        show_default=True,
        type=click.Choice(["critical", "error", "warning", "info", "debug"]),
    )
    @format_option("text", "json")
    @pass_ctx
    def serve(obj: Ctx, host: str, port: int, workers: int, log_level: str, fmt: str) -> None:
        """Serve the workspace over HTTP: the server holds the database, the evidence store
        and the log key; clients use ORDINANCE_URL and ORDINANCE_TOKEN.

        Bind to loopback and put a TLS reverse proxy in front (docs/deploy.md).
        Env ORDINANCE_LOG_KEY_PASSPHRASE decrypts an encrypted log key.
        """
        obj.local_only("serve")
        try:
            import uvicorn

            from ordinance.server import create_app
        except ImportError as exc:
            raise MissingExtraError("server", exc.name or "fastapi") from None
        from ordinance.store.migrate import current_revision, head_revision

        ws = obj.workspace()
        if current_revision(ws.engine()) != head_revision():
            raise InputError(
                f"the database schema is not current; run `ordinance db upgrade --home {ws.home}`"
            )
        log = ws.audit_log()  # loads (and decrypts) the log key once
        ws.log_signer = log.signer
        app = create_app(ws) if workers == 1 else None
        info(f"ordinance serve: http://{host}:{port} log {log.origin} ({log.vkey})")
        if host not in ("127.0.0.1", "::1", "localhost"):
            info(
                f"warning: plain HTTP on {host}: tokens travel in clear; bind to 127.0.0.1 "
                "behind a TLS reverse proxy (docs/deploy.md)"
            )
        if fmt == "json":  # one line on stdout before serving, for a supervisor to read
            click.echo(
                json.dumps(
                    {"url": f"http://{host}:{port}", "origin": log.origin, "vkey": log.vkey}
                ),
                nl=True,
            )
            sys.stdout.flush()
        if app is not None:
            uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
            return
        import os
        import shutil

        # uploads half-received by a killed server are never evidence: each worker spools in
        # spool/w<pid>; all of them are cleared here, before any worker starts
        shutil.rmtree(ws.home / "spool", ignore_errors=True)
        os.environ["ORDINANCE_SERVE_HOME"] = str(ws.home)
        if obj.db:
            os.environ["ORDINANCE_SERVE_DB"] = obj.db
        ws.close()
        uvicorn.run(
            "ordinance.server._factory:app",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
        )

    @cli.group("token")
    def token() -> None:
        """API tokens for the server (run on the server's workspace)."""

    @token.command("create")
    @click.option(
        "--identity", required=True, help="Who the token is: a roster member id, or a CI identity."
    )
    @click.option(
        "--scope",
        type=click.Choice(["reader", "ci", "member", "admin"]),
        required=True,
        help="reader: read; ci: register/attach/check/promote; member: sign approvals and "
        "waivers as IDENTITY; admin: everything.",
    )
    @click.option(
        "--expires-in",
        type=click.FloatRange(min=0, min_open=True),
        default=90.0,
        show_default=True,
        metavar="DAYS",
    )
    @click.option("--description", default="")
    @format_option("text", "json")
    @pass_ctx
    def token_create(
        obj: Ctx, identity: str, scope: str, expires_in: float, description: str, fmt: str
    ) -> None:
        """Create a token; it is printed once (only its SHA-256 is stored)."""
        from ordinance.tokens import TokenStore

        obj.local_only("token create")
        plain, tok = TokenStore(obj.workspace().engine()).create(
            identity, scope, expires_in=timedelta(days=expires_in), description=description
        )
        if fmt == "json":
            emit_json({**tok.to_dict(), "token": plain})
            return
        info(
            f"token {tok.token_id} for {identity} ({scope}), expires {tok.to_dict()['expires_at']}"
        )
        info("store it now (e.g. as a CI secret ORDINANCE_TOKEN); it is not shown again:")
        click.echo(plain)

    @token.command("list")
    @format_option("text", "json")
    @pass_ctx
    def token_list(obj: Ctx, fmt: str) -> None:
        """List tokens (never their secrets)."""
        from ordinance.tokens import TokenStore

        obj.local_only("token list")
        now = datetime.now(UTC)
        rows = [t.to_dict(now) for t in TokenStore(obj.workspace().engine()).list()]
        if fmt == "json":
            emit_json(rows)
            return
        for r in rows:
            click.echo(
                f"{r['id']}  {r['identity']:<24} {r['scope']:<7} {r['state']:<8} "
                f"expires {r['expires_at'] or 'never'}  {r['description']}"
            )

    @token.command("revoke")
    @click.argument("token_id")
    @format_option("text", "json")
    @pass_ctx
    def token_revoke(obj: Ctx, token_id: str, fmt: str) -> None:
        """Revoke the token with id TOKEN_ID (the 12 hex digits after ord_)."""
        from ordinance.tokens import TokenStore

        obj.local_only("token revoke")
        tok = TokenStore(obj.workspace().engine()).revoke(token_id)
        if fmt == "json":
            emit_json(tok.to_dict())
        else:
            click.echo(f"revoked {tok.token_id} ({tok.identity})")
