"""The prediction-table declaration: which columns of a ``predictions`` evidence file hold what.

A ``predictions`` evidence item declares its columns in its attributes::

    attributes: {y_true: default, y_pred: predicted, score: p_default, threshold: 0.5,
                 sensitive: [sex, age_band], pos_label: 1, sample_weight: w}

:func:`check_declaration` runs when the evidence is registered or attached (evidence is
append-only: a declaration naming a column the file lacks would break every later check):
each declared column must be named by a string and exist in the file, ``score`` and
``sample_weight`` must be numeric columns and ``threshold`` a number. Tables declared under
``sql:`` are checked where the query runs.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ordinance.errors import InputError

__all__ = ["COLUMN_KEYS", "check_declaration", "declared_columns"]

#: attributes that name one column each
COLUMN_KEYS: tuple[str, ...] = ("y_true", "y_pred", "score", "sample_weight")
#: columns that must hold numbers
_NUMERIC: tuple[str, ...] = ("score", "sample_weight")


def declared_columns(attributes: Mapping[str, Any], what: str) -> dict[str, str]:
    """``{role: column}`` for every declared column (``sensitive[i]`` for sensitive ones)."""
    out: dict[str, str] = {}
    for key in COLUMN_KEYS:
        value = attributes.get(key)
        if value is None:
            continue
        if not isinstance(value, str) or not value:
            raise InputError(f"{what}: attribute {key!r} must name a column (a string)")
        out[key] = value
    sensitive = attributes.get("sensitive")
    if sensitive is not None:
        items = [sensitive] if isinstance(sensitive, str) else sensitive
        if not isinstance(items, list | tuple) or not items:
            raise InputError(f"{what}: attribute 'sensitive' must name one or more columns")
        for i, col in enumerate(items):
            if not isinstance(col, str) or not col:
                raise InputError(f"{what}: sensitive[{i}] must name a column (a string)")
            out[f"sensitive[{i}]"] = col
    return out


def check_declaration(path: Path, attributes: Mapping[str, Any], what: str) -> None:
    """Refuse (exit 2, naming the column) a declaration the file does not match."""
    if attributes.get("sql") is not None:
        return
    columns = declared_columns(attributes, what)
    threshold = attributes.get("threshold")
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, int | float)
    ):
        raise InputError(f"{what}: attribute 'threshold' must be a number, not {threshold!r}")
    if not columns:
        return
    import pyarrow as pa

    from ordinance.metrics._table import column_names, read_table

    present = set(column_names(path))
    for role, col in columns.items():
        if col not in present:
            raise InputError(
                f"{what}: {role} column {col!r} is not in the table "
                f"(columns: {', '.join(sorted(present)) or 'none'})"
            )
    numeric = {role: columns[role] for role in _NUMERIC if role in columns}
    if numeric:
        table = read_table(path, columns=sorted(set(numeric.values())))
        for role, col in numeric.items():
            kind = table.schema.field(col).type
            if not (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
                raise InputError(
                    f"{what}: {role} column {col!r} must hold numbers, but holds {kind}"
                )
