"""``ordinance import mlflow``: register versions from other tools through the normal path."""

from __future__ import annotations

from pathlib import Path

import click

from ._common import Ctx, emit_json, format_option, info, pass_ctx


def register(cli: click.Group) -> None:
    @cli.group("import")
    def import_group() -> None:
        """Register model versions from another tool (MLflow) with their lineage."""

    @import_group.command("mlflow")
    @click.option(
        "--tracking-uri",
        envvar="MLFLOW_TRACKING_URI",
        required=True,
        help="MLflow tracking URI, e.g. sqlite:///mlflow.db or http://mlflow:5000. "
        "Env: MLFLOW_TRACKING_URI.",
    )
    @click.option(
        "--registry-uri",
        envvar="MLFLOW_REGISTRY_URI",
        help="Model registry URI when it differs from the tracking URI.",
    )
    @click.option("--model", "model", required=True, help="The MLflow registered model name.")
    @click.option("--version", "version", help="One version (default: every version).")
    @click.option(
        "--as",
        "ordinance_name",
        metavar="NAME",
        help="The Ordinance model name (default: the MLflow name).",
    )
    @click.option("--owner", help="Model owner (default: tag ordinance.owner, else the author).")
    @click.option(
        "--staging",
        type=click.Path(file_okay=False, path_type=Path),
        help="Keep the downloaded artifacts and generated manifests under "
        "STAGING/<model>/<version> (default: a temporary directory).",
    )
    @format_option("text", "json")
    @pass_ctx
    def mlflow_cmd(
        obj: Ctx,
        tracking_uri: str,
        registry_uri: str | None,
        model: str,
        version: str | None,
        ordinance_name: str | None,
        owner: str | None,
        staging: Path | None,
        fmt: str,
    ) -> None:
        """Import registered versions of an MLflow model: lineage from the source run
        (git commit, run, datasets, params, metrics), identity from the downloaded
        artifacts. Re-running is a no-op for versions already imported."""
        from ordinance.integrations.mlflow import import_mlflow

        register = None
        if obj.remote is not None:
            # read MLflow from here; the server registers what the staged manifest names
            from ordinance.registration import RegisterResult

            remote = obj.remote

            def register(manifest: Path) -> RegisterResult:
                return RegisterResult(*remote.register(manifest))

        imported = import_mlflow(
            None if register is not None else obj.workspace(),
            tracking_uri,
            model,
            version=version,
            registry_uri=registry_uri,
            staging=staging,
            ordinance_name=ordinance_name,
            owner=owner,
            register=register,
        )
        if fmt == "json":
            emit_json([i.to_dict() for i in imported])
            return
        for i in imported:
            v = i.result.version
            what = "imported" if i.result.created else "already imported (unchanged)"
            log = f", log entry {i.result.log_index}" if i.result.log_index is not None else ""
            aliases = f" aliases {','.join(i.facts.aliases)}" if i.facts.aliases else ""
            click.echo(
                f"{v.ref} {what} from MLflow {i.facts.name} v{i.facts.version}{aliases}: "
                f"run {i.facts.run_id or '-'}, identity sha256:{v.identity.sha256[:16]}…{log}"
            )
            for w in i.warnings:
                info(f"  warning: {w}")
