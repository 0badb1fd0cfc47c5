"""Typed values as group labels and binary labels, the same for every source.

A group is labelled by its sensitive values *as values*, not as the text a file happened to
hold, so a CSV, a Parquet file, a DataFrame and a SQL table with the same data give the same
groups:

* missing (null, NaN) is ``None`` — never a string, so a real category spelled ``"<missing>"``
  stays a group of its own;
* integers and integral floats are written without a fraction (``1``, ``1.0``, ``True``-free);
  other floats in Python's shortest round-trip form (``2.5``); booleans as ``True``/``False``;
  decimals like floats; everything else with ``str``;
* a CSV column read as text is *typed* once the whole column has been seen
  (:func:`type_text_labels`): if every non-missing value is a number, the values are numbers
  (``1``, ``1.0`` and ``01`` are one group, as in Parquet); if every value is a boolean word
  (``true``, ``False``, ...), booleans; otherwise the text stays text.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from decimal import Decimal

__all__ = ["MISSING_TEXT", "GroupLabel", "label_of", "normalize_label", "type_text_labels"]

#: How text output shows the missing group (JSON shows ``null``).
MISSING_TEXT = "<missing>"

GroupLabel = str | None

_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity)", re.I)
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})


def _float_text(value: float) -> str:
    if value.is_integer():
        return str(int(value))
    return repr(value)


def label_of(value: object) -> GroupLabel:
    """The group label of one typed value (``None`` for missing)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return None if math.isnan(value) else _float_text(value)
    if isinstance(value, Decimal):
        if value.is_nan():
            return None
        return str(int(value)) if value == value.to_integral_value() else _float_text(float(value))
    return str(value)


def type_text_labels(texts: Sequence[GroupLabel]) -> list[GroupLabel]:
    """Labels for the distinct text values of one column, typed as the whole column allows."""
    present = [t for t in texts if t is not None]
    if present and all(_INT.fullmatch(t) or _FLOAT.fullmatch(t) for t in present):
        return [None if t is None else _number_label(t) for t in texts]
    if present and all(t in _TRUE or t in _FALSE for t in present):
        return [None if t is None else ("True" if t in _TRUE else "False") for t in texts]
    return list(texts)


def _number_label(text: str) -> str:
    if _INT.fullmatch(text):
        return str(int(text))
    return _float_text(float(text))


def normalize_label(value: object) -> str:
    """A binary label's comparable form: ``True``, ``1``, ``1.0``, ``"1"`` and ``"1.0"``
    all become ``"1"``; other text stays as it is."""
    if isinstance(value, bool):
        return str(int(value))
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float | Decimal):
        f = float(value)
        return str(int(f)) if f.is_integer() else repr(f)
    text = str(value)
    if _INT.fullmatch(text) or _FLOAT.fullmatch(text):
        return _number_label(text)
    return text
