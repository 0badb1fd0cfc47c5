"""``ordinance init``, ``db upgrade``, ``register``, ``models``, ``show``, ``demo``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ordinance.model import ModelVersion, parse_ref

from ._common import Ctx, actor_option, emit_json, format_option, info, pass_ctx, require_actor


def version_summary(v: ModelVersion) -> dict[str, Any]:
    return {
        "model": v.model.name,
        "version": v.version,
        "stage": v.stage,
        "author": v.author,
        "created_at": v.created_at.isoformat(),
        "registered_at": v.registered_at.isoformat(),
        "identity": v.identity.sha256,
    }


def version_detail(v: ModelVersion) -> dict[str, Any]:
    d = version_summary(v)
    d.update(
        {
            "model_info": v.model.model_dump(mode="json"),
            "identity": v.identity.model_dump(mode="json"),
            "lineage": v.lineage.model_dump(mode="json"),
            "metrics": dict(v.metrics),
            "documentation": dict(v.documentation),
            "evidence": [e.model_dump(mode="json") for e in v.evidence],
            "manifest_sha256": v.manifest_sha256,
        }
    )
    return d


def register(cli: click.Group) -> None:
    @cli.command("init")
    @click.argument("directory", required=False, type=click.Path(file_okay=False))
    @click.option(
        "--origin",
        help="Log origin / key name, e.g. audit.example.org/ml (default from the directory).",
    )
    @click.option(
        "--encrypt-key",
        is_flag=True,
        help="Encrypt the new log key with a passphrase (asked for, or "
        "ORDINANCE_LOG_KEY_PASSPHRASE; the variable alone also encrypts it).",
    )
    @format_option("text", "json")
    @click.pass_obj
    def init_cmd(
        obj: Ctx, directory: str | None, origin: str | None, encrypt_key: bool, fmt: str
    ) -> None:
        """Create a workspace (./.ordinance, DIRECTORY/.ordinance or $ORDINANCE_HOME): config, database
        schema, evidence store and the log signing key. Safe to re-run."""
        import os

        obj.local_only("init")  # a server's workspace is created on the server

        from ordinance.errors import InputError
        from ordinance.workspace import HOME_DIRNAME, default_home, init_workspace

        from ._common import ask_log_key_passphrase

        if directory:
            home = Path(directory) / HOME_DIRNAME
        elif obj.home:
            home = Path(obj.home)
        else:
            home = default_home()
        passphrase = None
        if encrypt_key and not os.environ.get("ORDINANCE_LOG_KEY_PASSPHRASE"):
            import sys

            if not sys.stdin.isatty():
                raise InputError(
                    "--encrypt-key needs a terminal to ask for the passphrase, or "
                    "ORDINANCE_LOG_KEY_PASSPHRASE"
                )
            passphrase = ask_log_key_passphrase(confirm=True)
        with init_workspace(home, db_url=obj.db, origin=origin, passphrase=passphrase) as ws:
            info(f"workspace ready at {ws.home} (database: {_safe_url(ws.db_url)})")
            info(f"log verifier key: {ws.vkey()}")
            if fmt == "json":
                emit_json(
                    {
                        "home": str(ws.home),
                        "database": _safe_url(ws.db_url),
                        "origin": ws.audit_log().origin,
                        "vkey": ws.vkey(),
                    }
                )

    @cli.group("db")
    def db_group() -> None:
        """Database schema management."""

    @db_group.command("upgrade")
    @format_option("text", "json")
    @pass_ctx
    def db_upgrade(obj: Ctx, fmt: str) -> None:
        """Create or upgrade the database schema (idempotent)."""
        before, after = obj.workspace().upgrade_schema()
        info(f"schema {before or 'empty'} -> {after}")
        if fmt == "json":
            emit_json({"before": before, "after": after})

    @cli.command("register")
    @click.argument("manifest", type=click.Path(dir_okay=False, path_type=Path))
    @format_option("text", "json")
    @pass_ctx
    def register_cmd(obj: Ctx, manifest: Path, fmt: str) -> None:
        """Register the model version described by MANIFEST (YAML or JSON).

        In server mode the referenced files are uploaded (by digest, skipping those the
        server has) and the server re-reads the manifest against them."""
        if obj.remote is not None:
            v, created, log_index = obj.remote.register(manifest)
        else:
            result = obj.workspace().register(manifest)
            v, created, log_index = result.version, result.created, result.log_index
        if fmt == "json":
            emit_json({**version_summary(v), "created": created, "log_index": log_index})
        else:
            what = "registered" if created else "already registered (identical manifest)"
            log = f", log entry {log_index}" if log_index is not None else ""
            click.echo(
                f"{v.ref} {what}: stage {v.stage}, identity sha256:{v.identity.sha256[:16]}…, "
                f"{len(v.evidence)} evidence file(s){log}"
            )

    @cli.command("models")
    @format_option("text", "json")
    @pass_ctx
    def models_cmd(obj: Ctx, fmt: str) -> None:
        """List models and their versions."""
        rows = obj.remote.models() if obj.remote else obj.workspace().registry().list_models()
        if fmt == "json":
            emit_json(
                [
                    {**m.model_dump(mode="json"), "versions": [version_summary(v) for v in vs]}
                    for m, vs in rows
                ]
            )
            return
        if not rows:
            info("no models registered yet (ordinance register MANIFEST)")
            return
        for m, vs in rows:
            stages = ", ".join(f"{v.version}:{v.stage}" for v in vs)
            click.echo(f"{m.name}  owner={m.owner}  risk={m.risk_tier}  versions: {stages}")

    @cli.command("show")
    @click.argument("ref")
    @format_option("text", "json")
    @pass_ctx
    def show_cmd(obj: Ctx, ref: str, fmt: str) -> None:
        """Show MODEL[@VERSION] (latest version when none is given)."""
        name, version = parse_ref(ref)
        v = _get_version(obj, name, version)
        if fmt == "json":
            emit_json(version_detail(v))
            return
        click.echo(_render_text(v))

    @cli.group("evidence")
    def evidence_group() -> None:
        """Evidence attached to a version after registration."""

    @evidence_group.command("add")
    @click.argument("ref", metavar="MODEL@VERSION")
    @click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
    @click.option(
        "--kind", required=True, help="e.g. validation_report, drift_report, explainability"
    )
    @click.option("--name", help="Name of the evidence item (default: the file name).")
    @click.option(
        "--attr", "attrs", multiple=True, metavar="KEY=VALUE", help="An attribute; repeat."
    )
    @click.option("--description", default="")
    @actor_option("Who attaches it")
    @format_option("text", "json")
    @pass_ctx
    def evidence_add(
        obj: Ctx,
        ref: str,
        file: Path,
        kind: str,
        name: str | None,
        attrs: tuple[str, ...],
        description: str,
        actor: str | None,
        fmt: str,
    ) -> None:
        """Attach FILE to MODEL@VERSION as evidence of --kind (stored by digest, logged)."""
        from ordinance.errors import InputError

        model, version = parse_ref(ref)
        if version is None:
            raise InputError(f"{ref}: give MODEL@VERSION")
        attributes: dict[str, Any] = {}
        for a in attrs:
            key, sep, value = a.partition("=")
            if not sep or not key:
                raise InputError(f"--attr {a!r}: expected KEY=VALUE")
            attributes[key] = value
        if obj.remote is not None:
            data = obj.remote.attach(
                model,
                version,
                file,
                kind=kind,
                name=name,
                attributes=attributes,
                description=description,
            )
        else:
            res = obj.workspace().attach_evidence(
                model,
                version,
                file,
                kind=kind,
                name=name,
                attributes=attributes,
                description=description,
                actor=require_actor(actor, "evidence add"),
            )
            data = {
                **res.evidence.model_dump(mode="json"),
                "created": res.created,
                "log_index": res.log_index,
            }
        if fmt == "json":
            emit_json(data)
        else:
            what = "attached" if data["created"] else "already attached (identical)"
            click.echo(f"{ref}: {kind} {data['name']} sha256:{data['sha256'][:16]}… {what}")

    @evidence_group.command("list")
    @click.argument("ref", metavar="MODEL@VERSION")
    @format_option("text", "json")
    @pass_ctx
    def evidence_list(obj: Ctx, ref: str, fmt: str) -> None:
        """List the evidence of MODEL@VERSION."""
        model, version = parse_ref(ref)
        v = _get_version(obj, model, version)
        if fmt == "json":
            emit_json([e.model_dump(mode="json") for e in v.evidence])
            return
        for e in v.evidence:
            click.echo(
                f"{e.kind:<20} {e.name:<40} {e.size:>10}  sha256:{e.sha256[:16]}  {e.created_at.date()}"
            )

    @evidence_group.command("get")
    @click.argument("ref", metavar="MODEL@VERSION")
    @click.argument("name")
    @click.option("--kind", help="The evidence kind, when NAME is ambiguous.")
    @click.option(
        "--out",
        "out",
        required=True,
        type=click.Path(dir_okay=False, path_type=Path),
        help="Where to write the file.",
    )
    @format_option("text", "json")
    @pass_ctx
    def evidence_get(obj: Ctx, ref: str, name: str, kind: str | None, out: Path, fmt: str) -> None:
        """Fetch the evidence file NAME of MODEL@VERSION (checked against its digest)."""
        import shutil

        from ordinance.errors import InputError, NotFoundError

        model, version = parse_ref(ref)
        v = _get_version(obj, model, version)
        found = [e for e in v.evidence if e.name == name and (kind is None or e.kind == kind)]
        if not found:
            raise NotFoundError(f"{v.ref} has no evidence named {name!r}")
        if len({(e.kind, e.sha256) for e in found}) > 1:
            raise InputError(f"{v.ref}: several evidence items are named {name!r}; give --kind")
        e = found[0]
        if obj.remote is not None:
            obj.remote.download(e.sha256, out)
        else:
            from ordinance._canonical import sha256_file

            src = obj.workspace().evidence.open_path(e.sha256)
            if sha256_file(src)[0] != e.sha256:
                from ordinance.errors import VerificationError

                raise VerificationError(f"stored evidence {e.name} does not hash to its digest")
            shutil.copyfile(src, out)
        if fmt == "json":
            emit_json({**e.model_dump(mode="json"), "path": str(out)})
        else:
            info(f"wrote {out} ({e.kind} {e.name}, sha256:{e.sha256[:16]}…)")

    @cli.command("demo")
    @click.option(
        "--dir",
        "directory",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("ordinance-demo"),
        show_default=True,
        help="Where to build the demo; its workspace is left in DIR/.ordinance.",
    )
    @click.option("--rows", default=4000, show_default=True, help="Rows in the synthetic data set.")
    @click.option("--seed", default=7, show_default=True)
    @format_option("text", "json")
    def demo_cmd(directory: Path, rows: int, seed: int, fmt: str) -> None:
        """Run the whole Ordinance story end to end in a fresh workspace on SQLite."""
        from ordinance.demo import run_demo

        # with --format json the story goes to stderr and stdout carries the summary
        say = (lambda s: click.echo(s)) if fmt == "text" else info
        state = run_demo(directory, rows=rows, seed=seed, say=say)
        if fmt == "json":
            emit_json(
                {
                    "directory": str(state.directory),
                    "workspace": str(state.ws.home),
                    "manifests": {k: str(v) for k, v in state.manifests.items()},
                    "outputs": {k: str(v) for k, v in state.outputs.items()},
                }
            )


def _get_version(obj: Ctx, model: str, version: str | None) -> ModelVersion:
    if obj.remote is not None:
        return obj.remote.version(model, version)
    return obj.workspace().registry().get_version(model, version)


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def _render_text(v: ModelVersion) -> str:
    lines = [
        f"{v.ref}  [{v.stage}]",
        f"  model:     {v.model.name} (owner {v.model.owner}, risk tier {v.model.risk_tier})",
        f"  author:    {v.author}",
        f"  created:   {v.created_at.isoformat()}   registered: {v.registered_at.isoformat()}",
        f"  identity:  sha256:{v.identity.sha256} ({v.identity.method}, {v.identity.resources} file(s))",
    ]
    lin = v.lineage
    for d in lin.datasets:
        lines.append(
            f"  dataset:   {d.name} [{d.role}] {d.uri} sha256:{(d.sha256 or 'MISSING')[:16]}"
        )
    if lin.code:
        lines.append(f"  code:      {lin.code.repository} @ {lin.code.commit}")
    if lin.training_run:
        lines.append(f"  run:       {lin.training_run}")
    if lin.parent:
        lines.append(f"  parent:    {lin.parent}")
    for k, val in sorted(v.metrics.items()):
        lines.append(f"  metric:    {k} = {val:g}")
    for e in v.evidence:
        lines.append(f"  evidence:  {e.kind:<16} {e.name} ({e.size} bytes, sha256:{e.sha256[:16]})")
    missing = [
        k
        for k in ("intended_use", "limitations", "ethical_considerations")
        if not v.documentation.get(k)
    ]
    lines.append(
        f"  docs:      {len(v.documentation)} field(s)"
        + (f"; missing {', '.join(missing)}" if missing else "")
    )
    return "\n".join(lines)
