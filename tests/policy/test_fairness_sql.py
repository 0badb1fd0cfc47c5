"""A prediction table declared in a database (``sql:``): the rules push the counting down."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from backends import fresh_pg_schema, pg_url_or_skip
from ordinance.errors import InputError
from ordinance.metrics._sql import declared_sql
from ordinance.policy import evaluate, load_pack
from pg_tables import copy_into

from .conftest import Builder, prediction_table, write

PACK = """\
apiVersion: ordinance/v1
kind: PolicyPack
metadata: {name: sql, version: "1"}
rules:
  - id: fpr-gap
    type: fairness.threshold
    params: {metric: false_positive_rate, aggregate: difference, max: 0.1}
  - id: drift
    type: drift.threshold
    params: {statistic: psi, max: 0.2}
"""


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from fresh_pg_schema(pg_url_or_skip())


@pytest.mark.postgres
def test_rules_on_a_sql_prediction_table_equal_the_file(
    build: Builder, tmp_path: Path, pg_url: str
) -> None:
    frame = prediction_table(biased=True)
    types = {c: "integer" if c in ("default", "predicted") else "text" for c in frame.columns}
    types["income"] = "double precision"
    copy_into(pg_url, "preds", frame, types)
    from_file = build.version(biased=True)
    on_file = from_file.evidence_of("predictions")[0]
    declared = build.evidence(
        "predictions",
        "preds.table.yaml",
        b"sql: {table: preds}\n",
        attributes={**on_file.attributes, "sql": {"url": pg_url, "table": "preds"}},
    )
    others = [e for e in from_file.evidence if e.kind != "predictions"]
    in_db = build.version(biased=True, evidence=[declared, *others])
    pack = load_pack(write(tmp_path / "p.yaml", PACK))
    a = evaluate(from_file, "staging", [pack], build.ctx()).findings
    b = evaluate(in_db, "staging", [pack], build.ctx()).findings
    assert [f.status for f in a] == [f.status for f in b]
    assert a[0].result.measured == b[0].result.measured
    psi_file = a[1].result.measured["features"]
    psi_db = b[1].result.measured["features"]
    assert psi_db == psi_file
    assert "default" not in psi_db  # the label is not a drift feature


def test_sql_declarations_are_checked() -> None:
    assert declared_sql({}, "p") is None
    with pytest.raises(InputError, match="holds a password"):
        declared_sql({"sql": {"url": "postgresql://u:secret@h/db", "table": "t"}}, "p")
    with pytest.raises(InputError, match="exactly one of url or url_env"):
        declared_sql({"sql": {"table": "t"}}, "p")
    with pytest.raises(InputError, match="exactly one of a table or a query"):
        declared_sql({"sql": {"url": "postgresql://u@h/db"}}, "p")
    with pytest.raises(InputError, match="'NOPE_URL' is not set"):
        declared_sql({"sql": {"url_env": "NOPE_URL", "table": "t"}}, "p")
