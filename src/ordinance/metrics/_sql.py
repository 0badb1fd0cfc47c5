"""Push-down: the database counts, Ordinance computes from the counts.

A prediction table can be a SQL table or query (:class:`SqlTable`). Instead of fetching its
rows, Ordinance builds **one aggregate statement with SQLAlchemy Core** — no SQL text of its
own — and the database returns O(groups) rows:

* fairness: ``SELECT s1, …, sk, y_true, y_pred, count(*) [, sum(w), count(w), min(w)]
  … GROUP BY s1, …, sk, y_true, y_pred`` (with a score, ``y_pred`` is
  ``CASE WHEN score IS NULL THEN NULL WHEN score >= :threshold THEN 1 ELSE 0 END``, the
  threshold a bound parameter). The rows go through the same counting code as a file
  (:func:`ordinance.metrics._counts.count_batches`, each row standing for ``count(*)`` rows),
  so labels, groups and errors are the local engine's, and the results equal it exactly.
* drift: per feature, ``count(*)`` per reference bin (a ``CASE`` over the reference's cut
  points) or per category, as one ``UNION ALL`` of aggregates.

The same code runs on any engine with a SQLAlchemy dialect: PostgreSQL (tested), Trino,
Spark SQL (Thrift server, via PyHive), BigQuery, Snowflake; ``docs/fairness.md`` gives the
URL forms. A ``--query`` is the user's own SQL, used as a subquery (``SELECT … FROM (query)
AS t``); nothing else is spliced into statements, values are bound parameters.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlalchemy.exc import ArgumentError

from ordinance.errors import InfrastructureError, InputError
from ordinance.metrics._counts import CountSpec, GroupCounts, count_batches

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Connection

__all__ = ["SqlTable", "count_sql"]

_MULT = "__ordinance_n"


@dataclass(frozen=True)
class SqlTable:
    """A table (``table``, optionally ``schema``-qualified) or a ``query`` in a database."""

    url: str
    table: str | None = None
    query: str | None = None
    schema: str | None = None

    def __post_init__(self) -> None:
        if (self.table is None) == (self.query is None):
            raise InputError("a SQL prediction table needs exactly one of a table or a query")
        if self.query is not None and not self.query.strip().rstrip(";").strip():
            raise InputError("the SQL query is empty")

    @property
    def safe_url(self) -> str:
        """The URL with its password hidden."""
        try:
            from sqlalchemy.engine import make_url

            return make_url(self.url).render_as_string(hide_password=True)
        except Exception:
            return "<unparsable URL>"

    @property
    def name(self) -> str:
        """How messages name it: the URL without password, and the table (or ``query``)."""
        what = self.table if self.query is None else "query"
        if self.schema and self.table:
            what = f"{self.schema}.{self.table}"
        return f"{self.safe_url} {what}"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"url": self.safe_url}
        if self.table is not None:
            out["table"] = self.table
            if self.schema:
                out["schema"] = self.schema
        else:
            out["query"] = self.query
        return out


@contextmanager
def _connect(source: SqlTable) -> Iterator[Connection]:
    import sqlalchemy as sa

    try:
        engine = sa.create_engine(source.url)
    except ModuleNotFoundError as exc:
        raise InputError(
            f"{source.safe_url}: the database driver is not installed ({exc.name}); "
            "install the SQLAlchemy dialect for this engine"
        ) from None
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ValueError) as exc:
        raise InputError(f"{source.safe_url}: not a usable database URL: {_line(exc)}") from None
    try:
        with engine.connect() as conn:
            yield conn
    except sa.exc.OperationalError as exc:
        raise InfrastructureError(f"{source.name}: database error: {_line(exc)}") from None
    except (sa.exc.ProgrammingError, sa.exc.DataError) as exc:
        raise InputError(f"{source.name}: {_line(exc)}") from None
    finally:
        engine.dispose()


def _line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _split(source: SqlTable) -> tuple[str | None, str]:
    assert source.table is not None
    if source.schema is None and "." in source.table:
        schema, _, name = source.table.rpartition(".")
        return schema, name
    return source.schema, source.table


def _from(conn: Connection, source: SqlTable, columns: Sequence[str]) -> sa.FromClause:
    """The table or query as a FROM clause with these columns (checked for a table)."""
    import sqlalchemy as sa

    if source.query is not None:
        query = source.query.strip().rstrip(";")
        return sa.text(query).columns(*(sa.column(c) for c in columns)).subquery("t")
    schema, name = _split(source)
    inspector = sa.inspect(conn)
    try:
        have = [c["name"] for c in inspector.get_columns(name, schema=schema)]
    except sa.exc.NoSuchTableError:
        raise InputError(f"{source.name}: no such table") from None
    for col in columns:
        if col not in have:
            shown = ", ".join(have[:20]) + (", ..." if len(have) > 20 else "")
            raise InputError(f"{source.name}: no column {col!r} (columns: {shown})")
    return sa.table(name, *(sa.column(c) for c in dict.fromkeys(columns)), schema=schema)


def column_names(source: SqlTable) -> list[str]:
    """The columns of a table (reflected) or query (from an empty result)."""
    import sqlalchemy as sa

    with _connect(source) as conn:
        if source.query is not None:
            sub = sa.text(source.query.strip().rstrip(";")).columns().subquery("t")
            result: Any = conn.execute(sa.select(sa.literal_column("*")).select_from(sub).limit(0))
            return list(result.keys())
        schema, name = _split(source)
        try:
            return [c["name"] for c in sa.inspect(conn).get_columns(name, schema=schema)]
        except sa.exc.NoSuchTableError:
            raise InputError(f"{source.name}: no such table") from None


# --------------------------------------------------------------------------- fairness


def fairness_statement(t: sa.FromClause, spec: CountSpec, dialect: str) -> sa.Select[Any]:
    """The one aggregate: confusion cells (and weight sums) per group."""
    import sqlalchemy as sa

    keys: list[Any] = [t.c[s].label(f"s{i}") for i, s in enumerate(spec.sensitive)]
    keys.append(t.c[spec.y_true].label("y"))
    if spec.y_pred is not None:
        keys.append(t.c[spec.y_pred].label("p"))
    else:
        assert spec.score is not None and spec.threshold is not None
        score = t.c[spec.score]
        keys.append(
            sa.case(
                (score.is_(None), sa.null()),
                (score >= sa.bindparam("threshold", spec.threshold, type_=sa.Float()), 1),
                else_=0,
            ).label("p")
        )
    aggs: list[Any] = [sa.func.count().label("n")]
    if spec.sample_weight is not None:
        w = t.c[spec.sample_weight]
        aggs += [
            sa.func.sum(w).label("w"),
            sa.func.count(w).label("nw"),
            sa.func.min(w).label("minw"),
        ]
    if spec.score is not None and dialect == "postgresql":
        # PostgreSQL compares NaN as equal to itself and greater than every number
        nan = sa.bindparam("nan", math.nan, type_=sa.Float())
        aggs.append(sa.func.count(sa.case((t.c[spec.score] == nan, 1))).label("nan"))
    return sa.select(*keys, *aggs).group_by(*(k.element for k in keys))


def count_sql(source: SqlTable, spec: CountSpec) -> GroupCounts:
    """Confusion counts per group, computed by the database in one aggregate query."""
    with _connect(source) as conn:
        t = _from(conn, source, spec.columns())
        stmt = fairness_statement(t, spec, conn.dialect.name)
        rows = conn.execute(stmt).all()
    k = len(spec.sensitive)
    weight = spec.sample_weight
    name = source.name
    if spec.score is not None and any(r._mapping.get("nan") for r in rows):
        raise InputError(f"{name}: score column {spec.score!r} has NaN values")
    if weight is not None:
        if any(r.nw != r.n for r in rows):
            raise InputError(f"{name}: sample weight column {weight!r} has missing values")
        if any(r.minw is not None and float(r.minw) < 0 for r in rows):
            raise InputError(f"{name}: sample weight column {weight!r} has negative values")
    pred = spec.prediction_column
    columns: dict[str, pa.Array] = {}
    for i, s in enumerate(spec.sensitive):
        columns[s] = _array([r[i] for r in rows])
    columns[spec.y_true] = _array([r[k] for r in rows])
    columns[pred] = _array([r[k + 1] for r in rows])
    columns[_MULT] = pa.array([int(r.n) for r in rows], type=pa.int64())
    if weight is not None:
        columns[weight] = pa.array([float(r.w) for r in rows], type=pa.float64())
    batch = pa.RecordBatch.from_pydict(columns)
    return count_batches(
        name,
        [batch],
        spec,
        typed_text=False,
        prediction="labels" if spec.y_pred is not None else "positive",
        multiplicity=_MULT,
    )


def _array(values: list[Any]) -> pa.Array:
    try:
        return pa.array(values)
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


# --------------------------------------------------------------------------- drift


def drift_statement(
    t: sa.FromClause, features: Sequence[str], cuts: dict[str, Any], dialect: str
) -> sa.CompoundSelect[Any] | sa.Select[Any]:
    """One aggregate: rows per reference bin (numeric) or category, per feature.

    Bins are right-closed as in the local engine: bin ``i`` holds ``cuts[i-1] < x <=
    cuts[i]``; missing values have key ``NULL``. Every key is text, so the per-feature
    selects can be one ``UNION ALL``.
    """
    import sqlalchemy as sa

    parts = []
    for i, f in enumerate(features):
        x = t.c[f]
        if f in cuts:
            whens: list[Any] = [(x.is_(None), sa.null())]
            if dialect == "postgresql":
                nan = sa.bindparam(f"nan_{i}", math.nan, type_=sa.Float())
                whens.append((x == nan, sa.null()))
            whens += [
                (x <= sa.bindparam(f"cut_{i}_{j}", float(c), type_=sa.Float()), str(j))
                for j, c in enumerate(cuts[f])
            ]
            key: Any = sa.case(*whens, else_=str(len(cuts[f])))
        else:
            key = sa.cast(x, sa.String())
        key = key.label("k")
        parts.append(
            sa.select(
                sa.bindparam(f"f_{i}", i, type_=sa.Integer()).label("f"),
                key,
                sa.func.count().label("n"),
            )
            .select_from(t)
            .group_by(key.element)
        )
    return parts[0] if len(parts) == 1 else sa.union_all(*parts)


def drift_counts(
    source: SqlTable, features: Sequence[str], cuts: dict[str, Any]
) -> dict[str, dict[str | None, int]]:
    """Per feature, rows per bin index (as text) or category; ``None`` counts missing."""
    with _connect(source) as conn:
        t = _from(conn, source, features)
        rows = conn.execute(drift_statement(t, features, cuts, conn.dialect.name)).all()
    out: dict[str, dict[str | None, int]] = {f: {} for f in features}
    for f_index, key, n in rows:
        out[features[int(f_index)]][key] = int(n)
    return out


# --------------------------------------------------------------------------- declarations


def declared_sql(attributes: Mapping[str, Any], where: str) -> SqlTable | None:
    """The SQL table a prediction-table declaration names under ``sql:``, if any.

    ``sql: {url: ..., table: ... | query: ..., schema: ...}``, or ``url_env: VAR`` to take
    the URL from the environment. A URL carrying a password is refused: the declaration is
    logged, so credentials belong in the driver's environment (``PGPASSWORD``, ...).
    """
    import os

    spec = attributes.get("sql")
    if spec is None:
        return None
    if not isinstance(spec, Mapping):
        raise InputError(f"{where}: 'sql' must be a mapping with url and table or query")
    unknown = set(spec) - {"url", "url_env", "table", "query", "schema"}
    if unknown:
        raise InputError(f"{where}: unknown 'sql' field {sorted(unknown)[0]!r}")
    url = spec.get("url")
    env = spec.get("url_env")
    if (url is None) == (env is None):
        raise InputError(f"{where}: 'sql' needs exactly one of url or url_env")
    if env is not None:
        url = os.environ.get(str(env))
        if not url:
            raise InputError(f"{where}: the environment variable {env!r} is not set")
    else:
        from sqlalchemy.engine import make_url

        try:
            if make_url(str(url)).password is not None:
                raise InputError(
                    f"{where}: the sql url holds a password; declarations are logged, so give "
                    "it to the driver through its environment (e.g. PGPASSWORD) or use url_env"
                )
        except ArgumentError:
            raise InputError(f"{where}: not a database URL: {url!r}") from None
    return SqlTable(
        url=str(url),
        table=None if spec.get("table") is None else str(spec["table"]),
        query=None if spec.get("query") is None else str(spec["query"]),
        schema=None if spec.get("schema") is None else str(spec["schema"]),
    )
