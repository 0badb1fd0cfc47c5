"""``ordinance log``: verify, export, show, prove, consistency, cosign, checkpoint."""

from __future__ import annotations

import base64
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ordinance._files import read_text_limited
from ordinance.errors import EXIT_FAILURE, InputError, VerificationError

from ._common import (
    Ctx,
    emit_json,
    format_option,
    info,
    pass_ctx,
    raw_stderr,
    vkey_arg,
    write_output,
)

if TYPE_CHECKING:
    from ordinance.log import TransparencyLog


def _workspace_vkey(ctx: Ctx) -> str | None:
    """The workspace's log vkey when there is a workspace (never creates one)."""
    from ordinance.errors import OrdinanceError

    try:
        return ctx.workspace().vkey()
    except OrdinanceError:
        return None


def _parse_logged(ts: str) -> datetime:
    return datetime.fromisoformat(ts.replace("Z", "+00:00"))


def _reader(ctx: Ctx) -> TransparencyLog:
    from ordinance.log import TransparencyLog

    ws = ctx.workspace()
    return TransparencyLog.reader(ws.engine(), ws.vkey(), ws.config.log_origin)


@contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[[int], None] | None]:
    """A rich progress bar on a terminal, fed by a callback; nothing otherwise."""
    if not sys.stderr.isatty() or total <= 0:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

    with Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        transient=True,
        console=Console(file=raw_stderr()),
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda n: bar.advance(task, n)


def register(cli: click.Group) -> None:
    """Add ``ordinance log`` to ``cli``."""

    @cli.group("log")
    def log() -> None:
        """The signed append-only audit log: verify, export, prove, witness."""

    @log.command("verify")
    @click.option(
        "--bundle",
        type=click.Path(file_okay=False, exists=True, path_type=Path),
        help="Verify an exported bundle instead of the workspace database.",
    )
    @click.option(
        "--vkey",
        help="The log's verifier key you trust (string or file). Default: the workspace's.",
    )
    @click.option(
        "--unsafe-trust-bundle-key",
        is_flag=True,
        help="UNSAFE: with --bundle and no --vkey, trust the key shipped inside the bundle. "
        "Proves only self-consistency; anyone can fabricate a self-consistent bundle.",
    )
    @click.option(
        "--trusted-checkpoint",
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="A checkpoint you kept earlier; the log must extend it.",
    )
    @click.option(
        "--witness-vkey",
        "witness_vkeys",
        multiple=True,
        help="A witness cosignature key (string or file); repeatable.",
    )
    @click.option(
        "--min-witnesses",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Witness cosignatures the latest checkpoint needs.",
    )
    @click.option(
        "--entry-vkey",
        "entry_vkeys",
        multiple=True,
        help="A key accepted on entries of predicate types Ordinance does not define; "
        "repeatable. (Approver keys come from the log's own roster.)",
    )
    @click.option(
        "--deep",
        is_flag=True,
        help="Also check every entry: its signatures, who may sign it at its position "
        "(roster, roles, key chain), references and recorded tree heads (all cores).",
    )
    @format_option("text", "json")
    @pass_ctx
    def verify(
        ctx: Ctx,
        bundle: Path | None,
        vkey: str | None,
        unsafe_trust_bundle_key: bool,
        trusted_checkpoint: Path | None,
        witness_vkeys: tuple[str, ...],
        min_witnesses: int,
        entry_vkeys: tuple[str, ...],
        deep: bool,
        fmt: str,
    ) -> None:
        """Recompute every leaf and root and check every checkpoint signature.

        Exit 1 naming the first bad entry if anything does not verify.
        """
        from ordinance.log.sources import DbSource, LogSource
        from ordinance.log.verify import verify_source

        source: LogSource
        trust = "pinned"
        index_of = None
        if bundle is None and ctx.remote is not None:
            # server mode: fetch the bundle and verify it here, offline, against a key the
            # caller trusts (--vkey or ORDINANCE_LOG_VKEY); the server's own key is a hint
            import tempfile

            tmp = tempfile.TemporaryDirectory(prefix="ordinance-bundle-")
            ctx.cleanup.append(tmp.cleanup)
            bundle = ctx.remote.bundle(Path(tmp.name) / "bundle")
            vkey = vkey or os.environ.get("ORDINANCE_LOG_VKEY")
            if vkey is None:
                if not unsafe_trust_bundle_key:
                    raise InputError(
                        "no trusted log key: pass --vkey or set ORDINANCE_LOG_VKEY to the "
                        "log's verifier key obtained out of band (or --unsafe-trust-bundle-key "
                        "for a first look)"
                    )
                info(
                    "WARNING: --unsafe-trust-bundle-key: trusting the key the SERVER sends. "
                    "This proves only self-consistency. Pin the log's vkey for an audit."
                )
                vkey, trust = ctx.remote.vkey(), "unsafe-bundle-key"
        if bundle is not None:
            from ordinance.log.bundle import BundleSource

            bsource = BundleSource(bundle)
            if vkey is not None:
                key = vkey_arg(vkey)
            elif (ws_key := _workspace_vkey(ctx)) is not None:
                info("using the workspace's log key (pass --vkey to pin another)")
                key, trust = ws_key, "workspace"
            elif unsafe_trust_bundle_key:
                info(
                    "WARNING: --unsafe-trust-bundle-key: trusting the key shipped INSIDE the "
                    "bundle. This proves only that the bundle is self-consistent; anyone can "
                    "fabricate one. Pin the log's vkey with --vkey for an audit."
                )
                key, trust = bsource.vkey_hint().vkey, "unsafe-bundle-key"
            else:
                raise InputError(
                    "no trusted log key: pass --vkey with the log's verifier key obtained out "
                    "of band (or --unsafe-trust-bundle-key for a first look)"
                )
            source = bsource
        else:
            ws = ctx.workspace()
            source = DbSource(ws.engine())
            key = vkey_arg(vkey) if vkey else ws.vkey()
            trust = "pinned" if vkey else "workspace"
            index_of = ws
        trusted = read_text_limited(trusted_checkpoint) if trusted_checkpoint else None
        total = source.entry_count() * (2 if deep else 1)
        with _progress(total, "verifying") as cb:
            report = verify_source(
                source,
                key,
                trusted_checkpoint=trusted,
                witness_vkeys=[vkey_arg(w) for w in witness_vkeys],
                min_witnesses=min_witnesses,
                deep=deep,
                progress=cb,
                entry_vkeys=[vkey_arg(k) for k in entry_vkeys],
            )
        # the index is a cache of the log: every row must agree with its entry
        from ordinance.reindex import IndexReport, check_index

        index = check_index(index_of) if (index_of is not None and report.ok) else IndexReport()
        if fmt == "json":
            emit_json(
                {
                    **report.to_dict(),
                    "ok": report.ok and index.ok,
                    "log_ok": report.ok,
                    "index": index.to_dict() if index_of is not None else None,
                    "trust": trust,
                }
            )
            if not (report.ok and index.ok):
                raise click.exceptions.Exit(EXIT_FAILURE)
            return
        report.raise_for_failure()
        if not index.ok:
            for message, _ in index.problems:
                info(f"index: {message}")
            first, where = index.problems[0]
            raise VerificationError(
                f"the index disagrees with the log in {len(index.problems)} place(s): {first} "
                "(`ordinance index rebuild` recreates it from the log)",
                index=where,
            )
        extra = f", {report.signatures_checked} entry signatures" if deep else ""
        wit = f", {len(report.witnesses)} witness cosignature(s)" if report.witnesses else ""
        click.echo(
            f"ok: {report.entries_checked} entries, {report.checkpoints_checked} checkpoints"
            f"{extra}{wit}; size {report.size} root "
            f"{report.root.hex() if report.root else '-'}"
        )

    @cli.group("index")
    def index_group() -> None:
        """The index tables: a cache of the log, rebuilt from it."""

    @index_group.command("rebuild")
    @format_option("text", "json")
    @pass_ctx
    def rebuild(ctx: Ctx, fmt: str) -> None:
        """Recreate every index row from the verified log (one transaction)."""
        from ordinance.reindex import rebuild_index

        report = rebuild_index(ctx.workspace())
        if fmt == "json":
            emit_json(report.to_dict())
            return
        rows = ", ".join(f"{n} {t.removeprefix('ordinance_')}" for t, n in report.rows.items())
        click.echo(f"rebuilt the index from {report.size} log entries: {rows}")

    @log.command("export")
    @click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        help="Directory to write the audit bundle into (new or empty).",
    )
    @click.option(
        "--tiles",
        type=click.Path(file_okay=False, path_type=Path),
        help="Directory to write a C2SP tlog-tiles tree into (new or empty): static files "
        "any web server can publish.",
    )
    @format_option("text", "json")
    @pass_ctx
    def export(ctx: Ctx, out: Path | None, tiles: Path | None, fmt: str) -> None:
        """Write an offline audit bundle (--out) and/or a static tlog-tiles tree (--tiles)."""
        if out is None and tiles is None:
            raise InputError("give --out DIR (audit bundle) and/or --tiles DIR (tlog-tiles)")
        result: dict[str, object] = {}
        if out is not None:
            path = ctx.remote.bundle(out) if ctx.remote is not None else _reader(ctx).export(out)
            info(f"wrote audit bundle {path}")
            result["bundle"] = str(path)
        if tiles is not None:
            if ctx.remote is not None:
                raise InputError("--tiles exports from a workspace database, not from a server")
            from ordinance.log.tiles import export_tiles

            done = export_tiles(_reader(ctx), tiles)
            info(
                f"wrote tlog-tiles for tree size {done.size} to {tiles} "
                f"({done.tiles} tiles, {done.entry_bundles} entry bundles)"
            )
            result["tiles"] = {"path": str(tiles), **done.to_dict()}
        if fmt == "json":
            emit_json(result)

    @log.command("show")
    @click.option("--model", help="Only entries about this model (subject name).")
    @click.option("--since", help="Only entries logged at or after this date/time (ISO 8601).")
    @click.option("--predicate-type", help="Only entries with this predicate type.")
    @format_option("text", "json")
    @pass_ctx
    def show(
        ctx: Ctx, model: str | None, since: str | None, predicate_type: str | None, fmt: str
    ) -> None:
        """List log entries."""
        if ctx.remote is not None:
            rows = ctx.remote.log_entries(model, since, predicate_type)
        else:
            found = _reader(ctx).entries(model=model, since=since, predicate_type=predicate_type)
            rows = (e.to_dict() for e in found)
        if fmt == "json":
            emit_json(list(rows))
            return
        for e in rows:
            ptype = str(e["predicate_type"])
            ptype = ptype.rsplit("/", 2)[-2] if "/" in ptype else ptype
            logged = _parse_logged(str(e["logged_at"]))
            click.echo(
                f"{e['index']:>8}  {logged:%Y-%m-%d %H:%M:%S}  {ptype:<22} "
                f"{e['subject']['name']}  {e['subject']['digest'][:16]}"
            )

    @log.command("prove")
    @click.argument("index", type=click.IntRange(min=0))
    @click.option("--out", "output", help="Write the proof to this file instead of stdout.")
    @format_option("text", "json")
    @pass_ctx
    def prove(ctx: Ctx, index: int, output: str | None, fmt: str) -> None:
        """Print a C2SP tlog-proof for entry INDEX against the latest checkpoint."""
        proof = ctx.remote.prove(index) if ctx.remote is not None else _reader(ctx).prove(index)
        if fmt == "json":
            if output is not None and output != "-":
                write_output(proof, output)
            emit_json({"index": index, "proof": proof, "out": output})
            return
        write_output(proof, output)

    @log.command("consistency")
    @click.argument("old", type=click.IntRange(min=1))
    @click.argument("new", type=click.IntRange(min=1))
    @format_option("text", "json")
    @pass_ctx
    def consistency(ctx: Ctx, old: int, new: int, fmt: str) -> None:
        """Print an RFC 6962 consistency proof from tree size OLD to NEW (base64 lines)."""
        if ctx.remote is not None:
            proof = ctx.remote.consistency(old, new)
        else:
            proof = [base64.b64encode(h).decode() for h in _reader(ctx).consistency(old, new)]
        if fmt == "json":
            emit_json({"old": old, "new": new, "proof": proof})
        else:
            for line in proof:
                click.echo(line)

    @log.command("cosign")
    @click.option(
        "--key",
        "key_path",
        required=True,
        type=click.Path(dir_okay=False, exists=True, path_type=Path),
        help="The witness's private key (generated with keys generate --cosigner).",
    )
    @click.option(
        "--state",
        "state_path",
        type=click.Path(dir_okay=False, path_type=Path),
        help="File holding the last checkpoint this witness cosigned (updated).",
    )
    @click.option("--log-vkey", help="The log's vkey (string or file). Default: the workspace's.")
    @click.option("--passphrase-env", metavar="VAR", help="Passphrase of an encrypted witness key.")
    @format_option("text", "json")
    @pass_ctx
    def cosign(
        ctx: Ctx,
        key_path: Path,
        state_path: Path | None,
        log_vkey: str | None,
        passphrase_env: str | None,
        fmt: str,
    ) -> None:
        """Witness the latest checkpoint: check it extends the last one seen, then cosign."""
        import os

        from ordinance._files import atomic_write_text
        from ordinance.signing import load_signer, parse_vkey

        pw = os.environ.get(passphrase_env) if passphrase_env else None
        witness = load_signer(key_path, pw)
        reader = _reader(ctx)
        key = parse_vkey(vkey_arg(log_vkey) if log_vkey else ctx.workspace().vkey())
        last = read_text_limited(state_path) if state_path and state_path.exists() else None
        sig, state = reader.witness(witness, [key], last)
        if state_path is not None:
            atomic_write_text(state_path, state)
        if fmt == "json":
            emit_json({"cosignature": sig.line().rstrip("\n"), "witness": witness.key_id})
            return
        click.echo(sig.line(), nl=False)

    @log.command("request-cosignature")
    @click.option(
        "--url",
        required=True,
        help="The witness's submission prefix (C2SP tlog-witness); add-checkpoint is appended.",
    )
    @click.option(
        "--witness-vkey", required=True, help="The witness's vkey (string or file), type 0x04."
    )
    @click.option(
        "--old-size",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="The size the witness last cosigned, if known (0: let the witness say).",
    )
    @format_option("text", "json")
    @pass_ctx
    def request_cosignature_cmd(
        ctx: Ctx, url: str, witness_vkey: str, old_size: int, fmt: str
    ) -> None:
        """Ask a standard C2SP witness to cosign the latest checkpoint; store its cosignature."""
        from ordinance.log.witness import request_cosignature
        from ordinance.signing import parse_vkey

        sig = request_cosignature(
            _reader(ctx), url, parse_vkey(vkey_arg(witness_vkey)), old_size=old_size
        )
        if fmt == "json":
            emit_json({"witness": sig.name, "key_id": sig.key_id.hex(), "line": sig.line()})
        else:
            click.echo(sig.line(), nl=False)

    @log.command("checkpoint")
    @format_option("text", "json")
    @pass_ctx
    def checkpoint(ctx: Ctx, fmt: str) -> None:
        """Print the latest signed checkpoint (keep it: it pins the log's history)."""
        note = (
            ctx.remote.checkpoint() if ctx.remote is not None else _reader(ctx).latest_checkpoint()
        )
        if fmt == "json":
            from ordinance.log import Checkpoint, SignedNote

            cp = Checkpoint.from_text(SignedNote.parse(note).text)
            emit_json({"origin": cp.origin, "size": cp.size, "root": cp.root.hex(), "note": note})
        else:
            click.echo(note, nl=False)
