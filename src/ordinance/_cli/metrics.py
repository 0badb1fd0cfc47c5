"""``ordinance metrics fairness``, ``ordinance metrics drift`` and ``ordinance explain``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ._common import Ctx, actor_option, emit_json, format_option, info, pass_ctx, require_actor

if TYPE_CHECKING:
    from ordinance.metrics.drift import DriftReport
    from ordinance.metrics.fairness import FairnessReport, Interval

UNDEFINED = "undefined"
F = TypeVar("F", bound=Callable[..., Any])


def sql_options(f: F) -> F:
    """``--sql URL`` with ``--table T`` or ``--query Q``: a prediction table in a database."""
    f = click.option(
        "--query", help="With --sql: a SELECT whose result is the table (run as a subquery)."
    )(f)
    f = click.option(
        "--table", "sql_table", help="With --sql: the table name (schema.table allowed)."
    )(f)
    return click.option(
        "--sql",
        envvar="ORDINANCE_SQL_URL",
        help="SQLAlchemy database URL (or $ORDINANCE_SQL_URL); counts are computed there.",
    )(f)


def na_option(f: F) -> F:
    return click.option(
        "--na-value",
        "na_values",
        multiple=True,
        help="CSV cell text read as missing; repeat (default: only the empty cell).",
    )(f)


def _source(
    path: str | None, sql: str | None, table: str | None, query: str | None, what: str
) -> Any:
    from ordinance.errors import InputError

    if sql is None:
        if table is not None or query is not None:
            raise InputError("--table and --query need --sql URL")
        if path is None:
            raise InputError(f"give {what}, or --sql URL with --table or --query")
        return path
    if path is not None:
        raise InputError(f"give {what} or --sql, not both")
    from ordinance.metrics import SqlTable

    return SqlTable(url=sql, table=table, query=query)


def _source_name(source: Any) -> str:
    from ordinance.metrics import SqlTable

    return source.name if isinstance(source, SqlTable) else str(source)


def _source_json(source: Any) -> Any:
    from ordinance.metrics import SqlTable

    return source.to_dict() if isinstance(source, SqlTable) else str(source)


def _na(values: tuple[str, ...]) -> tuple[str, ...]:
    from ordinance.metrics._table import NA_VALUES

    return tuple(dict.fromkeys([*NA_VALUES, *values]))


def register(cli: click.Group) -> None:
    @cli.group("metrics")
    def metrics_group() -> None:
        """Compute evidence from prediction and data tables (CSV or Parquet)."""

    @metrics_group.command("fairness")
    @click.argument("table", required=False, metavar="[TABLE]")
    @sql_options
    @click.option("--y-true", required=True, help="Column with the true labels.")
    @click.option("--y-pred", help="Column with the predicted labels.")
    @click.option("--score", help="Column with scores; predicted positive iff score >= threshold.")
    @click.option("--threshold", type=float, help="Decision threshold for --score.")
    @click.option(
        "--sensitive",
        "sensitive",
        multiple=True,
        required=True,
        help="Sensitive-feature column; repeat for intersectional groups.",
    )
    @click.option("--pos-label", default="1", show_default=True, help="The positive label.")
    @click.option("--sample-weight", help="Column of non-negative row weights.")
    @click.option(
        "--undefined",
        type=click.Choice(["strict", "skip"]),
        default="strict",
        show_default=True,
        help="Undefined group rates: count as 0 in disparities (strict, fairlearn) or skip.",
    )
    @click.option(
        "--min-group-size",
        type=click.IntRange(min=0),
        default=30,
        show_default=True,
        help="Groups with fewer rows are flagged (never dropped).",
    )
    @click.option(
        "--bootstrap",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        help="Bootstrap resamples for confidence intervals (0: none).",
    )
    @click.option("--confidence", type=float, default=0.95, show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True, help="Bootstrap seed.")
    @na_option
    @format_option("text", "json")
    def fairness_cmd(
        table: str | None,
        sql: str | None,
        sql_table: str | None,
        query: str | None,
        y_true: str,
        y_pred: str | None,
        score: str | None,
        threshold: float | None,
        sensitive: tuple[str, ...],
        pos_label: str,
        sample_weight: str | None,
        undefined: str,
        min_group_size: int,
        bootstrap: int,
        confidence: float,
        seed: int,
        na_values: tuple[str, ...],
        fmt: str,
    ) -> None:
        """Group fairness metrics of the predictions in TABLE (fairlearn metric names).

        TABLE is a CSV or Parquet file, a Parquet dataset directory or an s3:// URI; or
        give --sql URL with --table or --query to have the database do the counting.
        """
        from ordinance.metrics.fairness import compute_fairness

        source = _source(table, sql, sql_table, query, "TABLE")
        report = compute_fairness(
            source,
            y_true=y_true,
            y_pred=y_pred,
            score=score,
            threshold=threshold,
            sensitive=list(sensitive),
            min_group_size=min_group_size,
            bootstrap=bootstrap,
            confidence=confidence,
            seed=seed,
            pos_label=_label(pos_label),
            sample_weight=sample_weight,
            undefined=undefined,  # type: ignore[arg-type]
            na_values=_na(na_values),
        )
        name = _source_name(source)
        if fmt == "json":
            emit_json({"table": _source_json(source), **report.to_dict()})
        else:
            click.echo(render_fairness_text(report, name))

    @metrics_group.command("drift")
    @click.argument("reference")
    @click.argument("current", required=False)
    @sql_options
    @click.option(
        "--feature", "features", multiple=True, help="Feature column (default: all shared)."
    )
    @click.option("--exclude", multiple=True, help="Shared column not to compare (the label, say).")
    @click.option("--categorical", multiple=True, help="Compare this feature by category; repeat.")
    @click.option("--bins", type=click.IntRange(min=2), default=10, show_default=True)
    @na_option
    @format_option("text", "json")
    def drift_cmd(
        reference: str,
        current: str | None,
        sql: str | None,
        sql_table: str | None,
        query: str | None,
        features: tuple[str, ...],
        exclude: tuple[str, ...],
        categorical: tuple[str, ...],
        bins: int,
        na_values: tuple[str, ...],
        fmt: str,
    ) -> None:
        """Population stability index and Kolmogorov-Smirnov statistics, CURRENT vs REFERENCE.

        CURRENT may instead be a SQL table or query (--sql URL --table T | --query Q):
        the database counts rows per reference bin (PSI; KS needs the rows).
        """
        from ordinance.metrics.drift import compute_drift

        source = _source(current, sql, sql_table, query, "CURRENT")
        report = compute_drift(
            reference,
            source,
            features=list(features) or None,
            bins=bins,
            exclude=exclude,
            categorical=categorical,
            na_values=_na(na_values),
        )
        if fmt == "json":
            emit_json({"reference": reference, "current": _source_json(source), **report.to_dict()})
        else:
            click.echo(render_drift_text(report, reference, _source_name(source)))

    @cli.command("explain")
    @click.argument("ref", metavar="MODEL@VERSION")
    @click.option("--data", required=True, type=click.Path(dir_okay=False, path_type=Path))
    @click.option("--target", required=True, help="Target column in --data.")
    @click.option(
        "--trust",
        "trusted",
        multiple=True,
        help="A type the model file may contain beyond skops' defaults; repeat.",
    )
    @click.option("--repeats", type=click.IntRange(min=1), default=5, show_default=True)
    @click.option("--seed", type=int, default=0, show_default=True)
    @click.option(
        "--out",
        type=click.Path(file_okay=False, path_type=Path),
        default=Path("."),
        show_default=True,
        help="Directory for MODEL-VERSION.explainability.json and .svg.",
    )
    @click.option(
        "--register/--no-register",
        default=True,
        show_default=True,
        help="Attach the artifact and chart to the version as evidence (logged).",
    )
    @actor_option("Who attaches the explanation")
    @format_option("text", "json")
    @pass_ctx
    def explain_cmd(
        obj: Ctx,
        ref: str,
        data: Path,
        target: str,
        trusted: tuple[str, ...],
        repeats: int,
        seed: int,
        out: Path,
        register: bool,
        actor: str | None,
        fmt: str,
    ) -> None:
        """Permutation importance of MODEL@VERSION's skops model file on --data.

        Writes the explainability artifact (JSON, bound to the version's identity digest)
        and its SVG chart, and attaches both to the version as evidence of kind
        ``explainability`` / ``explainability_chart`` (unless --no-register).
        """
        from ordinance.metrics.explain import explain_model_version, explain_version

        if obj.remote is not None:
            # computed here from the model file the server holds (downloaded, digest checked);
            # the server records the caller as the actor
            import tempfile

            from ordinance.model import parse_ref

            remote = obj.remote
            name, version = parse_ref(ref)
            v = remote.version(name, version)
            with tempfile.TemporaryDirectory(prefix="ordinance-explain-") as tmp:

                def fetch(digest: str) -> Path:
                    dest = Path(tmp) / digest
                    remote.download(digest, dest)
                    return dest

                result = explain_model_version(
                    v,
                    fetch,
                    data,
                    target=target,
                    trusted_types=trusted,
                    n_repeats=repeats,
                    seed=seed,
                )
        else:
            who = require_actor(actor, "explain --register") if register else ""
            result = explain_version(
                obj.workspace(),
                ref,
                data,
                target=target,
                trusted_types=trusted,
                n_repeats=repeats,
                seed=seed,
            )
        artifact = result.artifact
        stem = result.ref.replace("@", "-") + ".explainability"
        json_path, svg_path = artifact.write(out, stem)
        info(f"wrote {json_path} and {svg_path}")
        entry = result.evidence_entry(json_path)
        log_index = None
        if register and obj.remote is not None:
            model, _, version = result.ref.partition("@")
            attrs = {"identity_sha256": result.identity_digest, "method": "permutation_importance"}
            got = obj.remote.attach(
                model, version, json_path, kind="explainability", attributes=attrs
            )
            obj.remote.attach(
                model, version, svg_path, kind="explainability_chart", attributes=attrs
            )
            log_index = got.get("log_index")
            info(f"attached to {result.ref} as explainability evidence (log entry {log_index})")
        elif register:
            model, _, version = result.ref.partition("@")
            ws = obj.workspace()
            attrs = {"identity_sha256": result.identity_digest, "method": "permutation_importance"}
            attached = ws.attach_evidence(
                model, version, json_path, kind="explainability", attributes=attrs, actor=who
            )
            ws.attach_evidence(
                model,
                version,
                svg_path,
                kind="explainability_chart",
                attributes=attrs,
                actor=who,
            )
            log_index = attached.log_index
            info(f"attached to {result.ref} as explainability evidence (log entry {log_index})")
        if fmt == "json":
            emit_json(
                {
                    "artifact": dict(artifact.data),
                    "evidence": entry,
                    "chart": str(svg_path),
                    "registered": register,
                    "log_index": log_index,
                }
            )
            return
        rows = [
            [f["name"], _num(f["importance_mean"]), _num(f["importance_std"])]
            for f in artifact.data["features"]
        ]
        click.echo(f"{result.ref}: permutation importance, model sha256:{result.identity_digest}")
        click.echo(_table(["feature", "importance_mean", "importance_std"], rows))
        if not register:
            info(
                f"not attached; later: ordinance evidence add {result.ref} {json_path} --kind explainability"
            )


def _label(text: str) -> int | float | str | bool:
    """``--pos-label``: ``1`` is the integer 1 and ``1.0`` the number 1.0 (each matching 1,
    1.0 and True), ``true``/``false`` are booleans, other text is a string label."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    for number in (int, float):
        try:
            value = number(text)
        except ValueError:
            continue
        if isinstance(value, float) and not math.isfinite(value):
            break
        return value
    return text


def _num(value: float | None, digits: int = 4) -> str:
    return UNDEFINED if value is None else f"{value:.{digits}f}"


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """A plain aligned table: first column left-aligned, the others right-aligned."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        out = [cells[0].ljust(widths[0])]
        out += [c.rjust(w) for c, w in zip(cells[1:], widths[1:], strict=True)]
        return "  ".join(out).rstrip()

    return "\n".join([line(headers), line(["-" * w for w in widths]), *map(line, rows)])


def render_fairness_text(report: FairnessReport, table: str) -> str:
    """The text form of a fairness report: groups, disparities, summaries."""
    from ordinance.metrics.fairness import AGGREGATIONS, METRICS, group_text

    pred = report.prediction
    how = (
        f"y_pred={pred['y_pred']}"
        if "y_pred" in pred
        else f"score={pred['score']} >= {pred['threshold']:g}"
    )
    weighted = f"; weighted by {report.sample_weight}" if report.sample_weight else ""
    parts = [
        f"{table}: {report.n_rows} rows; y_true={pred['y_true']}, {how}, "
        f"pos_label={report.pos_label!r}; sensitive: {', '.join(report.sensitive_features)}"
        f"{weighted}",
        "",
    ]
    rows = []
    for g in (*report.by_group, report.overall):
        count = f"{g.count}{' *' if g.small else '  '}"
        rows.append([g.label, count, *(_num(g.metrics[m]) for m in METRICS)])
    parts.append(_table(["group", "count  ", *METRICS], rows))
    if report.small_groups:
        parts.append(f"* fewer than {report.min_group_size} rows: read these groups with care")
    parts.append("")
    headers = ["metric", *AGGREGATIONS]
    boot = report.bootstrap
    if boot is not None:
        headers += [f"difference {boot.confidence:.0%} CI", f"ratio {boot.confidence:.0%} CI"]
    drows = []
    for m in METRICS:
        d = report.disparities[m]
        row = [m, *(_num(d.value(a)) for a in AGGREGATIONS)]  # type: ignore[arg-type]
        if boot is not None:
            for a in ("difference", "ratio"):
                ci = d.ci.get(a)
                row.append(UNDEFINED if ci is None else _interval(ci))
        drows.append(row)
    parts.append(_table(headers, drows))
    undefined = report.undefined_by_metric()
    if undefined:
        how_counted = (
            "counted as 0 in disparities (strict, as fairlearn)"
            if report.undefined == "strict"
            else "left out of disparities (skip)"
        )
        parts.append(f"undefined rates, {how_counted}:")
        for metric, groups in undefined.items():
            parts.append(f"  {metric}: {', '.join(group_text(g) for g in groups)}")
    parts.append("")
    srows = []
    for s in report.summaries.values():
        srows.append([s.name, _num(s.value), "" if s.ci is None else _interval(s.ci)])
    ci_head = f"{boot.confidence:.0%} CI" if boot is not None else ""
    parts.append(_table(["summary", "value", ci_head], srows))
    if boot is not None:
        parts.append(f"bootstrap: {boot.n_boot} resamples, seed {boot.seed}; {boot.method}")
    return "\n".join(parts)


def _interval(ci: Interval) -> str:
    if ci.low is None or ci.high is None:
        return UNDEFINED
    return f"[{ci.low:.4f}, {ci.high:.4f}]"


def render_drift_text(report: DriftReport, reference: str, current: str) -> str:
    rows: list[list[str]] = []
    for f in report.features:
        rows.append(
            [
                f.name,
                f.kind,
                _num(f.psi),
                _num(f.ks_statistic),
                _pvalue(f.ks_pvalue),
                str(f.n_reference),
                str(f.n_current),
            ]
        )
    head = f"{current} vs {reference}: {len(report.features)} features, {report.bins} bins"
    table = _table(["feature", "kind", "psi", "ks_statistic", "ks_pvalue", "n_ref", "n_cur"], rows)
    text = f"{head}\n\n{table}"
    if report.excluded:
        shown = ", ".join(f"{k} ({v})" for k, v in report.excluded.items())
        text += f"\nnot compared: {shown}"
    return text


def _pvalue(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}"
