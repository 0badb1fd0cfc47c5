"""Formatting shared by the report builders: UTC timestamps to the second, measured values
and thresholds as one short line of text."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

__all__ = ["fmt_value", "norm_ts", "parse_ts", "ts"]


def ts(t: datetime | None) -> str | None:
    """A UTC timestamp to the second, ``2026-01-31T12:00:00Z`` (``None`` stays ``None``)."""
    if t is None:
        return None
    t = t if t.tzinfo is not None else t.replace(tzinfo=UTC)
    return t.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def parse_ts(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo is not None else t.replace(tzinfo=UTC)


def norm_ts(text: Any) -> str | None:
    """A stored timestamp string re-rendered as :func:`ts` does (or passed through)."""
    if not isinstance(text, str):
        return None
    parsed = parse_ts(text)
    return ts(parsed) if parsed is not None else text


def fmt_value(value: Any, *, digits: int = 4, limit: int = 400) -> str:
    """A measured value or threshold as one short line of text (numbers to ``digits``)."""
    text = _fmt(value, digits, depth=0)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _fmt(value: Any, digits: int, depth: int) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "—" if not math.isfinite(value) else f"{value:.{digits}f}"
    if isinstance(value, str):
        return value
    if isinstance(value, Sequence):
        if not value:
            return "none"
        return ", ".join(_fmt(v, digits, depth + 1) for v in value)
    if isinstance(value, Mapping):
        if not value:
            return "none"
        if depth >= 2:
            return "{…}"
        parts = []
        head = ""
        if "value" in value and not isinstance(value["value"], Mapping | list):
            head = _fmt(value["value"], digits, depth + 1)
            if isinstance(value.get("worst"), str):
                head += f" (worst: {value['worst']})"
        for k in sorted(value, key=str):
            if head and k in ("value", "worst"):
                continue
            v = value[k]
            if isinstance(v, Mapping) and "value" in v:
                parts.append(f"{k} {_fmt(v['value'], digits, depth + 1)}")
            elif isinstance(v, Mapping) and depth >= 1:
                continue
            else:
                parts.append(f"{k}: {_fmt(v, digits, depth + 1)}")
        body = "; ".join(parts)
        return f"{head}; {body}" if head and body else (head or body)
    return str(value)
