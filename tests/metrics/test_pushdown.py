"""Push-down on PostgreSQL: one aggregate query, results equal to the local engine and fairlearn.

A 1M-row prediction table is loaded with COPY into a fresh schema; the database computes the
confusion counts per group (weighted too) and drift histogram counts, and every number equals
the local engine's on the same rows exactly (integer counts; dyadic weights, so weighted sums
do not depend on the summation order), and fairlearn's to 1e-12.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fairlearn.metrics import MetricFrame
from sklearn.exceptions import UndefinedMetricWarning

from backends import fresh_pg_schema, pg_url_or_skip
from helpers import run_cli
from ordinance.errors import InputError
from ordinance.metrics import SqlTable, compute_drift, compute_fairness
from ordinance.metrics.fairness import METRICS
from pg_tables import copy_into

from ._fairlearn_oracle import FAIRLEARN_METRICS, TOL, close

pytestmark = pytest.mark.postgres

N = 1_000_000


def _frame(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    race = rng.choice(
        np.array(["a", "b", "c", "d", ""], dtype=object), n, p=[0.4, 0.3, 0.2, 0.09, 0.01]
    )
    race[race == ""] = None
    sex = rng.choice(["f", "m"], n)
    y = (rng.random(n) < np.where(race == "a", 0.3, 0.45)).astype(np.int64)
    score = np.clip(rng.normal(0.35 + 0.3 * y, 0.2), 0, 1).round(4)
    return pd.DataFrame(
        {
            "race": race,
            "sex": sex,
            "y": y,
            "p": (score >= 0.5).astype(np.int64),
            "score": score,
            "w": rng.integers(1, 17, n) / 4.0,  # dyadic: exact sums in any order
            "age": rng.normal(40, 12, n).round(2),
        }
    )


TYPES = {
    "race": "text",
    "sex": "text",
    "y": "integer",
    "p": "integer",
    "score": "double precision",
    "w": "double precision",
    "age": "double precision",
}


@pytest.fixture(scope="module")
def pg() -> Iterator[tuple[str, pd.DataFrame]]:
    """A fresh schema holding ``preds`` (1M rows); yields (url, the same rows locally)."""
    url = pg_url_or_skip()
    frame = _frame(N)
    for schema_url in fresh_pg_schema(url):
        copy_into(schema_url, "preds", frame, TYPES)
        yield schema_url, frame


def _fairlearn(frame: pd.DataFrame, sensitive: list[str], weighted: bool) -> MetricFrame:
    """fairlearn's MetricFrame on the rows, aggregated first by pandas.

    MetricFrame takes ~50 s per metric on 1M rows here, so the 1M rows are grouped by pandas
    (not Ordinance) into their distinct (groups, y, p) rows, each carrying the number of rows
    or their summed weight as its sample weight: every fairlearn rate is then the same sum
    over the same rows (integers and dyadic weights add exactly).
    :func:`test_fairlearn_on_the_raw_rows` checks this against MetricFrame on the raw rows.
    """
    keys = [*sensitive, "y", "p"]
    filled = frame.assign(**{c: frame[c].fillna("<missing>") for c in sensitive})
    agg = filled.groupby(keys, sort=True)["w"].agg("sum" if weighted else "size").reset_index()
    metrics = {m: FAIRLEARN_METRICS[m] for m in METRICS}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        return MetricFrame(
            metrics=metrics,
            y_true=agg["y"],
            y_pred=agg["p"],
            sensitive_features=agg[sensitive],
            sample_params={m: {"sample_weight": agg["w"].to_numpy()} for m in metrics},
        )


@pytest.mark.slow
def test_fairlearn_on_the_raw_rows(pg: tuple[str, pd.DataFrame]) -> None:
    """One metric through MetricFrame on all 1M raw rows, intersectional and weighted."""
    url, frame = pg
    sensitive = ["race", "sex"]
    pushed = compute_fairness(
        SqlTable(url, table="preds"), y_true="y", y_pred="p", sensitive=sensitive, sample_weight="w"
    )
    mf = MetricFrame(
        metrics=FAIRLEARN_METRICS["true_positive_rate"],
        y_true=frame["y"],
        y_pred=frame["p"],
        sensitive_features=frame[sensitive].fillna("<missing>"),
        sample_params={"sample_weight": frame["w"].to_numpy()},
    )
    for g in pushed.by_group:
        labels = tuple("<missing>" if v is None else v for v in g.group)
        assert close(g.metrics["true_positive_rate"] or 0.0, float(mf.by_group.loc[labels]))
    assert close(pushed.disparity("true_positive_rate").difference or 0.0, float(mf.difference()))
    # the aggregated oracle used below gives the same values as MetricFrame on the raw rows
    oracle = _fairlearn(frame, sensitive, weighted=True).by_group["true_positive_rate"]
    for labels, value in mf.by_group.items():
        assert close(float(oracle.loc[labels]), float(value)), labels


@pytest.mark.parametrize(
    ("sensitive", "weight"),
    [(["race"], None), (["race", "sex"], None), (["race"], "w"), (["race", "sex"], "w")],
)
def test_pushdown_equals_local_and_fairlearn(
    pg: tuple[str, pd.DataFrame], sensitive: list[str], weight: str | None
) -> None:
    url, frame = pg
    kw: dict[str, Any] = {
        "y_true": "y",
        "y_pred": "p",
        "sensitive": sensitive,
        "sample_weight": weight,
    }
    pushed = compute_fairness(SqlTable(url, table="preds"), **kw)
    local = compute_fairness(frame, **kw)
    assert pushed.to_dict() == local.to_dict()
    assert pushed.n_rows == N
    mf = _fairlearn(frame, sensitive, weighted=weight is not None)
    for g in pushed.by_group:
        labels = tuple("<missing>" if v is None else v for v in g.group)
        row = mf.by_group.loc[labels[0] if len(labels) == 1 else labels]
        for m in METRICS:
            assert close(g.metrics[m] or 0.0, float(row[m])), (g.group, m)
    for m, d in pushed.disparities.items():
        assert close(d.difference or 0.0, float(mf.difference()[m])), m
        assert close(d.ratio or 0.0, float(mf.ratio()[m])), m
    eod_frame = pd.DataFrame(
        {
            "tpr": mf.difference()["true_positive_rate"],
            "fpr": mf.difference()["false_positive_rate"],
        },
        index=[0],
    )
    eod = float(eod_frame.max(axis=1).iloc[0])  # fairlearn's equalized_odds_difference
    assert pushed.summary("equalized_odds_difference").value == pytest.approx(eod, abs=TOL)


def test_pushdown_score_threshold_query_and_bootstrap(pg: tuple[str, pd.DataFrame]) -> None:
    url, frame = pg
    kw: dict[str, Any] = {
        "y_true": "y",
        "score": "score",
        "threshold": 0.5,
        "sensitive": ["sex"],
        "bootstrap": 200,
        "seed": 4,
    }
    pushed = compute_fairness(SqlTable(url, table="preds"), **kw)
    assert pushed.to_dict() == compute_fairness(frame, **kw).to_dict()
    query = SqlTable(url, query="SELECT * FROM preds WHERE race = 'a'")
    subset = frame[frame["race"] == "a"]
    assert compute_fairness(query, **kw).to_dict() == compute_fairness(subset, **kw).to_dict()


def test_the_database_returns_only_aggregate_rows(pg: tuple[str, pd.DataFrame]) -> None:
    import sqlalchemy as sa

    from ordinance.metrics._counts import CountSpec
    from ordinance.metrics._sql import fairness_statement

    url, _ = pg
    spec = CountSpec("y", "p", None, None, ("race", "sex"), 1, "w")
    t = sa.table("preds", *(sa.column(c) for c in spec.columns()))
    stmt = fairness_statement(t, spec, "postgresql")
    sql = str(stmt.compile(dialect=sa.dialects.postgresql.dialect()))
    assert sql.count("SELECT") == 1 and "GROUP BY" in sql
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
    finally:
        engine.dispose()
    assert len(rows) <= 5 * 2 * 4  # groups x confusion cells, not 1M rows


def test_pushdown_drift_equals_local(pg: tuple[str, pd.DataFrame]) -> None:
    url, frame = pg
    reference = _frame(20_000, seed=9)[["age", "sex", "score"]]
    pushed = compute_drift(
        reference, SqlTable(url, table="preds"), features=["age", "sex", "score"]
    )
    local = compute_drift(reference, frame, features=["age", "sex", "score"])
    for a, b in zip(pushed.features, local.features, strict=True):
        assert a.name == b.name and a.kind == b.kind
        assert a.bins == b.bins
        assert a.psi == b.psi
        assert a.ks_statistic is None  # KS needs the rows
    r = run_cli(
        "metrics", "drift", "--format", "json", "--sql", url, "--table", "preds",
        "--feature", "age", _csv(reference),
    )  # fmt: skip
    assert r.code == 0, r.err
    assert json.loads(r.out)["features"][0]["psi"] == local.feature("age").psi


def _csv(frame: pd.DataFrame) -> str:
    import tempfile

    f = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)  # noqa: SIM115
    frame.to_csv(f, index=False)
    f.close()
    return f.name


def test_cli_sql_and_errors(pg: tuple[str, pd.DataFrame]) -> None:
    url, _ = pg
    base = ["metrics", "fairness", "--sql", url, "--y-true", "y", "--y-pred", "p"]
    r = run_cli(*base, "--table", "preds", "--sensitive", "race", "--format", "json")
    assert r.code == 0, r.err
    data = json.loads(r.out)
    assert data["n_rows"] == N and data["table"]["table"] == "preds"
    secret = SqlTable("postgresql+psycopg://u:s3cret@127.0.0.1:9/x", table="t")
    assert "s3cret" not in secret.name + json.dumps(secret.to_dict())
    r = run_cli(*base, "--table", "preds", "--sensitive", "nope")
    assert r.code == 2 and "no column 'nope'" in r.err
    r = run_cli(*base, "--table", "nowhere", "--sensitive", "race")
    assert r.code == 2 and "no such table" in r.err
    r = run_cli(*base, "--query", "SELECT y, p, race FROM nowhere", "--sensitive", "race")
    assert r.code == 2 and "nowhere" in r.err and "Traceback" not in r.err
    with pytest.raises(InputError, match="exactly one of a table or a query"):
        SqlTable(url)
    with pytest.raises(InputError, match="not binary"):
        compute_fairness(SqlTable(url, table="preds"), y_true="y", y_pred="age", sensitive=["sex"])


@pytest.mark.parametrize(
    ("score", "message"),
    # pandas hands NaN to Arrow as null, so locally a NaN score is a missing one
    [(float("nan"), "has (NaN|missing) values"), (None, "has missing values")],
)
def test_pushdown_refuses_bad_scores_like_the_local_engine(
    pg: tuple[str, pd.DataFrame], score: float | None, message: str
) -> None:
    url, _ = pg
    frame = pd.DataFrame({"s": ["a", "b", "a"], "y": [1, 0, 1], "score": [0.2, 0.9, score]})
    name = "nan_scores" if score is not None else "null_scores"
    copy_into(url, name, frame, {"s": "text", "y": "integer", "score": "double precision"})
    if score is not None:  # COPY got pandas' NaN as NULL: make it a real NaN
        import psycopg

        with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as conn:
            conn.execute(f"UPDATE {name} SET score = 'NaN' WHERE score IS NULL")
    kw: dict[str, Any] = {"y_true": "y", "score": "score", "threshold": 0.5, "sensitive": ["s"]}
    with pytest.raises(InputError, match=message):
        compute_fairness(frame, **kw)
    # PostgreSQL keeps NaN apart from NULL (and sorts it above every number): caught too
    sql_message = "has NaN values" if score is not None else message
    with pytest.raises(InputError, match=sql_message):
        compute_fairness(SqlTable(url, table=name), **kw)
