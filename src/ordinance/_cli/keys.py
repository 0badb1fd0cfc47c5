"""``ordinance keys``: generate and inspect signing keys, rotate the workspace log key."""

from __future__ import annotations

import os
from pathlib import Path

import click

from ordinance.errors import InputError

from ._common import Ctx, actor_option, emit_json, format_option, info, pass_ctx, require_actor


def _passphrase(env: str | None) -> bytes | None:
    if not env:
        return None
    value = os.environ.get(env)
    if value is None:
        raise InputError(f"environment variable {env} (the key passphrase) is not set")
    return value.encode()


def register(cli: click.Group) -> None:
    """Add ``ordinance keys`` to ``cli``."""

    @cli.group("keys")
    def keys() -> None:
        """Signing keys: generate, show, and rotate the workspace log key."""

    @keys.command("generate")
    @click.option(
        "--name", required=True, help="Key name, e.g. ordinance.local/acme (no spaces, no '+')."
    )
    @click.option(
        "--out",
        "out",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="Private key file to create (0600); the public key goes to <out>.vkey.",
    )
    @click.option(
        "--passphrase-env",
        metavar="VAR",
        help="Encrypt the private key with the passphrase in this environment variable.",
    )
    @click.option(
        "--cosigner",
        is_flag=True,
        help="A witness key (C2SP cosignature/v1, type 0x04) instead of a log/signing key.",
    )
    @format_option("text", "json")
    def generate(
        name: str, out: Path, passphrase_env: str | None, cosigner: bool, fmt: str
    ) -> None:
        """Create a new Ed25519 key and print its verifier key (vkey)."""
        from ordinance.signing import (
            SIGTYPE_COSIGNATURE_V1,
            SIGTYPE_ED25519,
            generate_key,
            vkey_path_for,
        )

        sigtype = SIGTYPE_COSIGNATURE_V1 if cosigner else SIGTYPE_ED25519
        vkey = generate_key(out, name, _passphrase(passphrase_env), sigtype=sigtype)
        info(f"wrote {out} (private, 0600) and {vkey_path_for(out)}")
        if fmt == "json":
            emit_json(
                {
                    "path": str(out),
                    "vkey_path": str(vkey_path_for(out)),
                    "name": name,
                    "type": "cosignature/v1" if cosigner else "ed25519",
                    "vkey": vkey,
                    "encrypted": passphrase_env is not None,
                }
            )
        else:
            click.echo(vkey)

    @keys.command("show")
    @click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.option("--passphrase-env", metavar="VAR", help="Passphrase of an encrypted key.")
    @format_option("text", "json")
    def show(path: Path, passphrase_env: str | None, fmt: str) -> None:
        """Show a key file's name, key ID and vkey (private key or .vkey file)."""
        from ordinance._files import read_limited
        from ordinance.signing import load_signer, parse_vkey

        text = read_limited(path, 64 * 1024).decode("utf-8", errors="replace")
        if text.startswith("ordinance-key-name:"):
            key = load_signer(path, _passphrase(passphrase_env)).verifier
            kind = "private"
        else:
            key = parse_vkey(text)
            kind = "public"
        data = {
            "path": str(path),
            "kind": kind,
            "name": key.name,
            "key_id": key.key_id,
            "type": "cosignature/v1" if key.sigtype == 0x04 else "ed25519",
            "vkey": key.vkey,
        }
        if fmt == "json":
            emit_json(data)
        else:
            for k, v in data.items():
                click.echo(f"{k:7} {v}")

    @keys.command("encrypt")
    @click.argument(
        "path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
    )
    @click.option(
        "--passphrase-env",
        metavar="VAR",
        default="ORDINANCE_LOG_KEY_PASSPHRASE",
        show_default=True,
        help="Environment variable holding the new passphrase (asked for when unset).",
    )
    @click.option(
        "--current-passphrase-env",
        metavar="VAR",
        help="Environment variable holding the key's current passphrase (to change it).",
    )
    @format_option("text", "json")
    @pass_ctx
    def encrypt(
        ctx: Ctx,
        path: Path | None,
        passphrase_env: str,
        current_passphrase_env: str | None,
        fmt: str,
    ) -> None:
        """Encrypt a private key file in place (default: the workspace's log key).

        Afterwards every command that signs needs the passphrase: set
        ORDINANCE_LOG_KEY_PASSPHRASE (or answer the prompt on a terminal).
        """
        import sys

        from ordinance.signing import encrypt_key_file

        from ._common import ask_log_key_passphrase

        target = path or ctx.workspace().log_key_path
        new = os.environ.get(passphrase_env)
        if not new:
            if not sys.stdin.isatty():
                raise InputError(f"set {passphrase_env} (the new passphrase) or run on a terminal")
            new_pw = ask_log_key_passphrase(confirm=True)
        else:
            new_pw = new.encode()
        encrypt_key_file(target, new_pw, current=_passphrase(current_passphrase_env))
        info(f"encrypted {target} (0600); keep the passphrase apart from the key")
        if fmt == "json":
            emit_json({"path": str(target), "encrypted": True})

    @keys.command("rotate")
    @click.option("--reason", default="", help="Why the key is rotated (recorded in the log).")
    @actor_option("Who rotates it")
    @format_option("text", "json")
    @pass_ctx
    def rotate(ctx: Ctx, reason: str, actor: str | None, fmt: str) -> None:
        """Replace the workspace log key; the change is itself a log entry.

        The key-change entry is signed by the old and the new key. The old private key is
        kept under keys/retired/. Auditors pinning the old vkey still verify the whole log.
        Env ORDINANCE_LOG_KEY_PASSPHRASE encrypts the new key like the old one.
        """
        from ordinance._files import atomic_write_text
        from ordinance.signing import load_signer, vkey_path_for

        actor = require_actor(actor, "keys rotate")
        ws = ctx.workspace()
        log = ws.audit_log()
        key_path = Path(ws.log_key_path)
        new_path = key_path.with_name(key_path.name + ".new")
        if new_path.exists():
            raise InputError(
                f"{new_path} exists: a rotation was interrupted; check `ordinance log checkpoint` "
                "and move it into place, or delete it"
            )
        env = os.environ.get("ORDINANCE_LOG_KEY_PASSPHRASE")
        from ordinance.signing import generate_key

        generate_key(new_path, log.origin, env.encode() if env else None)
        new_signer = load_signer(new_path, env.encode() if env else None)
        old_id = log.signer.key_id
        index = log.rotate_key(new_signer, reason=reason, actor=actor)
        retired = key_path.parent / "retired"
        retired.mkdir(mode=0o700, exist_ok=True)
        os.replace(key_path, retired / f"log-{old_id}.key")
        os.replace(new_path, key_path)
        vkey_path_for(new_path).unlink(missing_ok=True)
        atomic_write_text(vkey_path_for(key_path), new_signer.vkey + "\n")
        info(f"rotated the log key at entry {index}; old key kept in {retired}")
        if fmt == "json":
            emit_json(
                {
                    "log_index": index,
                    "old_key_id": old_id,
                    "key_id": new_signer.key_id,
                    "vkey": new_signer.vkey,
                    "retired": str(retired / f"log-{old_id}.key"),
                }
            )
        else:
            click.echo(new_signer.vkey)
