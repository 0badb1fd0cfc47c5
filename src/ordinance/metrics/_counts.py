"""Confusion counts per group: the one sufficient statistic of every fairness metric.

Every metric, disparity and bootstrap interval derives from a group's four confusion counts
``(tn, fp, fn, tp)`` — and, with sample weights, their weighted sums. Counts are additive,
so they can be computed anywhere: :func:`count_batches` reduces Arrow batches (a file read in
batches, a DataFrame) with ``np.bincount``, and :mod:`ordinance.metrics._sql` has the database
compute them with one ``GROUP BY`` whose O(groups) result rows are fed back through the same
function (each row standing for ``n`` rows of total weight ``w``), so labels, groups and
errors are decided by one piece of code whatever the source.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from ordinance.errors import InputError
from ordinance.metrics._labels import GroupLabel, label_of, normalize_label, type_text_labels

__all__ = ["MAX_CELLS", "CountSpec", "GroupCounts", "Label", "count_batches"]

#: Most intersectional cells (product of the columns' distinct values) Ordinance will count.
MAX_CELLS = 1_000_000

Label = int | float | str | bool
Group = tuple[GroupLabel, ...]
_F64 = npt.NDArray[np.float64]
_I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class CountSpec:
    """What to count: label columns, prediction (labels or score ≥ threshold), groups, weight."""

    y_true: str
    y_pred: str | None
    score: str | None
    threshold: float | None
    sensitive: tuple[str, ...]
    pos_label: Label = 1
    sample_weight: str | None = None

    @property
    def prediction_column(self) -> str:
        col = self.y_pred if self.y_pred is not None else self.score
        assert col is not None
        return col

    def columns(self) -> list[str]:
        cols = [self.y_true, self.prediction_column, *self.sensitive]
        if self.sample_weight is not None:
            cols.append(self.sample_weight)
        return cols


@dataclass(frozen=True)
class GroupCounts:
    """Confusion counts of the observed groups, sorted by label (missing first)."""

    groups: tuple[Group, ...]
    #: (G, 4) row counts: tn, fp, fn, tp
    rows: _I64
    #: (G, 4) summed sample weights, or None without weights
    weights: _F64 | None
    n_rows: int

    def keep(self, groups: Iterable[Group]) -> GroupCounts:
        """Only these groups (the overall counts become theirs)."""
        wanted = set(groups)
        idx = [i for i, g in enumerate(self.groups) if g in wanted]
        rows = self.rows[idx]
        return GroupCounts(
            groups=tuple(self.groups[i] for i in idx),
            rows=rows,
            weights=None if self.weights is None else self.weights[idx],
            n_rows=int(rows.sum()),
        )


def sort_key(group: Group) -> tuple[tuple[int, str], ...]:
    return tuple((0, "") if v is None else (1, v) for v in group)


# --------------------------------------------------------------------------- encoders


class _GroupEncoder:
    """Map one sensitive column's raw values to stable integer codes across batches."""

    def __init__(self) -> None:
        self.values: list[object] = []
        self._codes: dict[object, int] = {}

    def _code(self, value: object) -> int:
        if isinstance(value, float) and math.isnan(value):
            value = None
        key = (type(value), value)
        code = self._codes.get(key)
        if code is None:
            code = self._codes[key] = len(self.values)
            self.values.append(value)
        return code

    def encode(self, column: pa.Array | pa.ChunkedArray) -> _I64:
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        if pa.types.is_null(column.type):
            return np.full(len(column), self._code(None), dtype=np.int64)
        if not pa.types.is_dictionary(column.type):
            column = pc.dictionary_encode(column)
        dictionary = column.dictionary.to_pylist()
        local = np.array([self._code(v) for v in dictionary] + [self._code(None)], dtype=np.int64)
        indices = column.indices
        if indices.null_count:
            indices = pc.fill_null(indices, len(dictionary))
        return np.asarray(local[indices.to_numpy(zero_copy_only=False)], dtype=np.int64)

    def labels(self, typed_text: bool) -> list[GroupLabel]:
        """The label of each code; ``typed_text``: the values are CSV text to be typed."""
        if typed_text and all(v is None or isinstance(v, str) for v in self.values):
            return type_text_labels([None if v is None else str(v) for v in self.values])
        return [label_of(v) for v in self.values]


class _LabelReader:
    """Turn a binary label column into booleans (``== pos_label``), checking it is binary."""

    def __init__(self, name: str, pos_label: Label) -> None:
        self.name = name
        self.pos = normalize_label(pos_label)
        self.seen: dict[str, set[str]] = {}

    def read(self, column: str, values: pa.Array | pa.ChunkedArray) -> npt.NDArray[np.bool_]:
        if values.null_count:
            raise InputError(f"{self.name}: column {column!r} has missing labels")
        distinct = self.seen.setdefault(column, set())
        uniques = pc.unique(values).to_pylist()
        if any(isinstance(v, float) and math.isnan(v) for v in uniques):
            raise InputError(f"{self.name}: column {column!r} has missing labels (NaN)")
        distinct.update(normalize_label(v) for v in uniques)
        union = set().union(*self.seen.values())
        if len(union) > 2:
            shown = ", ".join(sorted(union)[:5])
            raise InputError(
                f"{self.name}: column {column!r} is not binary: labels {shown}"
                + (" (with the other label column)" if len(self.seen) > 1 else "")
            )
        typ = values.type
        if pa.types.is_dictionary(typ):
            values = values.cast(typ.value_type)
            typ = typ.value_type
        if pa.types.is_string(typ) or pa.types.is_large_string(typ):
            # text labels compare by their normalized form ("1.0" is the label 1)
            hits = [v for v in uniques if normalize_label(v) == self.pos]
            mask = pc.is_in(values, value_set=pa.array(hits, type=typ))
            return np.asarray(mask.to_numpy(zero_copy_only=False), dtype=bool)
        target = self._target(column, typ)
        return np.asarray(pc.equal(values, target).to_numpy(zero_copy_only=False), dtype=bool)

    def _target(self, column: str, typ: pa.DataType) -> pa.Scalar:
        pos = self.pos
        try:
            if pa.types.is_boolean(typ):
                if pos not in ("0", "1"):
                    raise ValueError(pos)
                return pa.scalar(pos == "1")
            if pa.types.is_integer(typ):
                return pa.scalar(int(pos), type=typ)
            if pa.types.is_floating(typ):
                return pa.scalar(float(pos), type=typ)
            if pa.types.is_decimal(typ):
                return pa.scalar(float(pos)).cast(typ)
        except (ValueError, pa.ArrowInvalid):
            raise InputError(
                f"{self.name}: pos_label {pos!r} cannot match column {column!r} of type {typ}"
            ) from None
        raise InputError(f"{self.name}: column {column!r} has type {typ}, not binary labels")

    def check_positive_present(self) -> None:
        union = set().union(*self.seen.values())
        if len(union) == 2 and self.pos not in union:
            raise InputError(
                f"{self.name}: pos_label {self.pos!r} is not one of the labels "
                f"{', '.join(sorted(union))} of {', '.join(repr(c) for c in self.seen)}"
            )


class _Accumulator:
    """Counts in arrays of shape ``(n_values_col1, ..., n_values_colk, 4)``."""

    def __init__(self, k: int, name: str, weighted: bool) -> None:
        self.rows: _F64 = np.zeros((1,) * k + (4,), dtype=np.float64)
        self.weights: _F64 | None = np.zeros_like(self.rows) if weighted else None
        self.name = name

    def _grow(self, array: _F64, cards: list[int]) -> _F64:
        grow = [(0, r - s) for r, s in zip(cards, array.shape[:-1], strict=True)]
        if any(after for _, after in grow):
            return np.pad(array, [*grow, (0, 0)])
        return array

    def add(
        self,
        codes: list[_I64],
        cards: list[int],
        cell: _I64,
        multiplicity: _F64 | None,
        weight: _F64 | None,
    ) -> None:
        n_cells = math.prod(cards)
        if n_cells > MAX_CELLS:
            raise InputError(
                f"{self.name}: {n_cells} possible intersectional groups exceed {MAX_CELLS}; "
                "is a sensitive column an identifier?"
            )
        key = codes[0]
        for c, r in zip(codes[1:], cards[1:], strict=True):
            key = key * r + c
        index = key * 4 + cell
        shape = (*cards, 4)
        size = n_cells * 4
        self.rows = self._grow(self.rows, cards)
        self.rows += np.bincount(index, weights=multiplicity, minlength=size).reshape(shape)
        if self.weights is not None:
            assert weight is not None
            self.weights = self._grow(self.weights, cards)
            self.weights += np.bincount(index, weights=weight, minlength=size).reshape(shape)


# --------------------------------------------------------------------------- counting


def count_batches(
    name: str,
    batches: Iterable[pa.RecordBatch],
    spec: CountSpec,
    *,
    typed_text: bool,
    prediction: Literal["labels", "score", "positive"] = "labels",
    multiplicity: str | None = None,
) -> GroupCounts:
    """Reduce batches to confusion counts per group.

    ``prediction``: the prediction column holds labels, scores (thresholded here), or
    already-decided positives (``1``/``0``, from a pushed-down ``CASE``). ``multiplicity``
    names a column saying how many rows each row stands for (pushed-down aggregates);
    ``typed_text``: sensitive columns are CSV text, typed once the whole column is seen.
    """
    sensitive = list(spec.sensitive)
    encoders = [_GroupEncoder() for _ in sensitive]
    labels = _LabelReader(name, spec.pos_label)
    acc = _Accumulator(len(sensitive), name, spec.sample_weight is not None)
    pred_col = spec.prediction_column
    n_rows = 0
    for batch in batches:
        if batch.num_rows == 0:
            continue
        truth = labels.read(spec.y_true, batch.column(spec.y_true))
        column = batch.column(pred_col)
        if prediction == "labels":
            pred = labels.read(pred_col, column)
        elif prediction == "score":
            assert spec.threshold is not None
            pred = _threshold(name, pred_col, column, spec.threshold)
        else:
            if column.null_count:
                raise InputError(f"{name}: score column {pred_col!r} has missing values")
            pred = np.asarray(column.to_numpy(zero_copy_only=False), dtype=bool)
        codes = [enc.encode(batch.column(c)) for enc, c in zip(encoders, sensitive, strict=True)]
        cell = truth.astype(np.int64) * 2 + pred
        mult = None
        if multiplicity is not None:
            mult = np.asarray(
                batch.column(multiplicity).to_numpy(zero_copy_only=False), dtype=np.float64
            )
            n_rows += int(mult.sum())
        else:
            n_rows += batch.num_rows
        weight = None
        if spec.sample_weight is not None:
            weight = _weights(name, spec.sample_weight, batch.column(spec.sample_weight))
        acc.add(codes, [len(enc.values) for enc in encoders], cell, mult, weight)
    labels.check_positive_present()
    return _observed(acc, [enc.labels(typed_text) for enc in encoders], n_rows)


def _threshold(name: str, column: str, values: pa.Array, threshold: float) -> npt.NDArray[np.bool_]:
    if pa.types.is_decimal(values.type):
        values = values.cast(pa.float64())
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        raise InputError(f"{name}: score column {column!r} is not numeric ({values.type})")
    if values.null_count:
        raise InputError(f"{name}: score column {column!r} has missing values")
    scores = values.to_numpy(zero_copy_only=False)
    if pa.types.is_floating(values.type) and np.isnan(scores).any():
        raise InputError(f"{name}: score column {column!r} has NaN values")
    return np.asarray(scores >= threshold, dtype=bool)


def _weights(name: str, column: str, values: pa.Array) -> _F64:
    if pa.types.is_decimal(values.type):
        values = values.cast(pa.float64())
    if not (pa.types.is_integer(values.type) or pa.types.is_floating(values.type)):
        raise InputError(f"{name}: sample weight column {column!r} is not numeric ({values.type})")
    if values.null_count:
        raise InputError(f"{name}: sample weight column {column!r} has missing values")
    w = np.asarray(values.to_numpy(zero_copy_only=False), dtype=np.float64)
    if not np.isfinite(w).all():
        raise InputError(f"{name}: sample weight column {column!r} has NaN or infinite values")
    if (w < 0).any():
        raise InputError(f"{name}: sample weight column {column!r} has negative values")
    return w


def _observed(acc: _Accumulator, labels: list[list[GroupLabel]], n_rows: int) -> GroupCounts:
    """Merge cells whose values share a label (``1`` and ``01`` in CSV text) and keep the
    groups with at least one row, sorted by label."""
    cards = acc.rows.shape[:-1]
    flat_rows = acc.rows.reshape(-1, 4)
    flat_w = None if acc.weights is None else acc.weights.reshape(-1, 4)
    merged: dict[Group, tuple[_F64, _F64 | None]] = {}
    for k in np.flatnonzero(flat_rows.sum(axis=1)):
        idx = np.unravel_index(int(k), cards)
        group = tuple(labels[i][int(j)] for i, j in enumerate(idx))
        r = flat_rows[k]
        w = None if flat_w is None else flat_w[k]
        if group in merged:
            r0, w0 = merged[group]
            r = r0 + r
            w = None if w0 is None or w is None else w0 + w
        merged[group] = (r, w)
    groups = sorted(merged, key=sort_key)
    shape = (len(groups), 4)
    rows = np.array([merged[g][0] for g in groups], dtype=np.float64).reshape(shape)
    weights = None
    if acc.weights is not None:
        weights = np.array([merged[g][1] for g in groups], dtype=np.float64).reshape(shape)
    return GroupCounts(tuple(groups), np.rint(rows).astype(np.int64), weights, n_rows)


def empty_table_error(name: str, counts: GroupCounts) -> None:
    if counts.n_rows == 0:
        raise InputError(f"{name}: the table has no rows")


def labels_text(group: Sequence[GroupLabel]) -> str:
    from ordinance.metrics._labels import MISSING_TEXT

    return " / ".join(MISSING_TEXT if v is None else v for v in group)
