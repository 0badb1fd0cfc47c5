"""Bounds on values that come from users, checked where they are parsed.

A value that passes here can be serialized (canonical JSON has no NaN, no infinity, no
dates), stored and compared with any other time without an overflow: every such failure is
an input error naming the field, never an internal error later.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

MIN_YEAR = 1900
MAX_YEAR = 9000
MAX_JSON_DEPTH = 64


def check_time(value: datetime | date) -> None:
    """Raise ValueError unless ``value`` lies in years 1900-9000 (room for any arithmetic)."""
    if not MIN_YEAR <= value.year <= MAX_YEAR:
        raise ValueError(f"the year must be between {MIN_YEAR} and {MAX_YEAR}")
    if isinstance(value, datetime) and value.tzinfo is not None:
        value.astimezone(UTC)  # a valid offset: cannot overflow inside the bounds


def check_finite(value: float) -> float:
    if not math.isfinite(value):
        raise ValueError("must be a finite number (not NaN or infinity)")
    return value


def check_json(value: Any, depth: int = 0) -> None:
    """Raise ValueError unless ``value`` is plain JSON: strings, finite numbers, booleans,
    null, lists and string-keyed mappings (a YAML date or ``.nan`` is not)."""
    if depth > MAX_JSON_DEPTH:
        raise ValueError(f"nested deeper than {MAX_JSON_DEPTH} levels")
    if value is None or isinstance(value, str | bool | int):
        return
    if isinstance(value, float):
        check_finite(value)
    elif isinstance(value, list | tuple):
        for item in value:
            check_json(item, depth + 1)
    elif isinstance(value, Mapping):
        for k, item in value.items():
            if not isinstance(k, str):
                raise ValueError(f"keys must be text (got a {type(k).__name__})")
            check_json(item, depth + 1)
    elif isinstance(value, date):
        raise ValueError("a date or time must be quoted text here (YAML read it as a date)")
    else:
        raise ValueError(f"not a JSON value (a {type(value).__name__})")
