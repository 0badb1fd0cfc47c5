"""``ordinance metrics fairness``, ``ordinance metrics drift`` and ``ordinance explain``."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ._common import Ctx, emit_json, format_option, info, pass_ctx

if TYPE_CHECKING:
    from ordinance.metrics.drift import DriftReport
    from ordinance.metrics.fairness import FairnessReport, Interval

UNDEFINED = "undefined"


def register(cli: click.Group) -> None:
    @cli.group("metrics")
    def metrics_group() -> None:
        """Compute evidence from prediction and data tables (CSV or Parquet)."""

    @metrics_group.command("fairness")
    @click.argument("table", type=click.Path(dir_okay=False, path_type=Path))
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
    @format_option("text", "json")
    def fairness_cmd(
        table: Path,
        y_true: str,
        y_pred: str | None,
        score: str | None,
        threshold: float | None,
        sensitive: tuple[str, ...],
        pos_label: str,
        min_group_size: int,
        bootstrap: int,
        confidence: float,
        seed: int,
        fmt: str,
    ) -> None:
        """Group fairness metrics of the predictions in TABLE (fairlearn metric names)."""
        from ordinance.metrics.fairness import compute_fairness

        report = compute_fairness(
            table,
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
        )
        if fmt == "json":
            emit_json({"table": str(table), **report.to_dict()})
        else:
            click.echo(render_fairness_text(report, str(table)))

    @metrics_group.command("drift")
    @click.argument("reference", type=click.Path(dir_okay=False, path_type=Path))
    @click.argument("current", type=click.Path(dir_okay=False, path_type=Path))
    @click.option(
        "--feature", "features", multiple=True, help="Feature column (default: all shared)."
    )
    @click.option("--bins", type=click.IntRange(min=2), default=10, show_default=True)
    @format_option("text", "json")
    def drift_cmd(
        reference: Path, current: Path, features: tuple[str, ...], bins: int, fmt: str
    ) -> None:
        """Population stability index and Kolmogorov-Smirnov statistics, CURRENT vs REFERENCE."""
        from ordinance.metrics.drift import compute_drift

        report = compute_drift(reference, current, features=list(features) or None, bins=bins)
        if fmt == "json":
            emit_json({"reference": str(reference), "current": str(current), **report.to_dict()})
        else:
            click.echo(render_drift_text(report, str(reference), str(current)))

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
        fmt: str,
    ) -> None:
        """Permutation importance of MODEL@VERSION's skops model file on --data.

        Writes the explainability artifact (JSON, bound to the version's identity digest)
        and its SVG chart, and attaches both to the version as evidence of kind
        ``explainability`` / ``explainability_chart`` (unless --no-register).
        """
        from ordinance.metrics.explain import explain_version

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
        if register:
            model, _, version = result.ref.partition("@")
            ws = obj.workspace()
            attrs = {"identity_sha256": result.identity_digest, "method": "permutation_importance"}
            attached = ws.attach_evidence(
                model, version, json_path, kind="explainability", attributes=attrs
            )
            ws.attach_evidence(
                model, version, svg_path, kind="explainability_chart", attributes=attrs
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


def _label(text: str) -> int | str | bool:
    """``--pos-label``: ``1`` is the integer 1 (matching 1, 1.0 and True), ``true``/``false``
    are booleans, other text is a string label."""
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    try:
        return int(text)
    except ValueError:
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
    from ordinance.metrics.fairness import AGGREGATIONS, METRICS

    pred = report.prediction
    how = (
        f"y_pred={pred['y_pred']}"
        if "y_pred" in pred
        else f"score={pred['score']} >= {pred['threshold']:g}"
    )
    parts = [
        f"{table}: {report.n_rows} rows; y_true={pred['y_true']}, {how}, "
        f"pos_label={report.pos_label!r}; sensitive: {', '.join(report.sensitive_features)}",
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
    return f"{head}\n\n{table}"


def _pvalue(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:.3g}"
