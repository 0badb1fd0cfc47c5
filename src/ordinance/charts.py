"""Tiny, deterministic SVG charts: no plotting library, same input → same bytes.

:func:`bar_chart` draws horizontal bars with an x axis (ticks and a label), optional 95%
intervals as whiskers, an optional reference line (the overall rate, a threshold) and
flags per bar ("small"); :func:`xy_chart` draws points on two labelled axes with the
diagonal and a threshold line (a calibration plot).

Reports and explainability artifacts embed these charts, so they are accessible
(``role="img"`` labelled by a ``<title>`` and a ``<desc>``, one ``<title>`` per bar for
screen readers and tooltips) and safe to inline (every text is XML-escaped). Element ids
derive from the content, so several charts can share one HTML page. Values may be negative
(bars grow left of a zero line) or ``None`` (drawn as the word "undefined", never as 0).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Sequence
from xml.sax.saxutils import escape, quoteattr

__all__ = ["bar_chart", "nice_ticks", "xy_chart"]

_FONT = 'font-family="system-ui, -apple-system, \'Segoe UI\', sans-serif" font-size="12"'
_CHAR_PX = 6.6  # average glyph width at 12px, for laying out the label column
_BAR = "#3b6ea5"
_NEGATIVE = "#b5523b"
_UNDEFINED = "undefined"


def _fmt(x: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering ``[lo, hi]``."""
    span = hi - lo
    if span <= 0:
        return [lo]
    raw = span / max(n - 1, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9) * step
    out = []
    t = first
    while t <= hi + step * 1e-9:
        out.append(round(t, 10))
        t += step
    return out


def bar_chart(
    bars: Sequence[tuple[str, float | None]],
    *,
    title: str,
    description: str = "",
    width: int = 640,
    bar_height: int = 20,
    digits: int = 3,
    intervals: Sequence[Sequence[float] | None] | None = None,
    reference: float | None = None,
    reference_label: str = "",
    axis_label: str = "",
    flags: Sequence[str] | None = None,
) -> str:
    """Horizontal bars, one per ``(label, value)``, in the order given; returns SVG text.

    ``intervals`` (one ``[low, high]`` or ``None`` per bar) draws whiskers; ``reference``
    a dashed vertical line labelled ``reference_label``; ``flags`` a note after a bar's
    value (e.g. ``small``); the x axis is labelled ``axis_label``.
    """
    if not bars:
        raise ValueError("a bar chart needs at least one bar")
    if any(v is not None and not math.isfinite(v) for _, v in bars):
        raise ValueError("bar values must be finite numbers or None")
    ivs = list(intervals) if intervals is not None else [None] * len(bars)
    if len(ivs) != len(bars):
        raise ValueError("one interval (or None) per bar")
    values = [v for _, v in bars if v is not None]
    values += [x for iv in ivs if iv for x in iv if math.isfinite(x)]
    if reference is not None and math.isfinite(reference):
        values.append(reference)
    lo = min([0.0, *values])
    hi = max([0.0, *values])
    span = (hi - lo) or 1.0

    pad, gap, head = 8, 6, 28
    flag_w = max((len(f) for f in flags or () if f), default=0) * _CHAR_PX
    label_w = min(width * 0.4, max(len(label) for label, _ in bars) * _CHAR_PX + pad)
    value_w = (digits + 4) * _CHAR_PX + pad + (flag_w + pad if flag_w else 0)
    plot_x = pad + label_w
    plot_w = max(width - plot_x - value_w - pad, 10.0)
    bars_h = len(bars) * (bar_height + gap)
    axis_h = 34 if axis_label else 22
    height = head + bars_h + axis_h + pad
    zero_x = plot_x + (0.0 - lo) / span * plot_w

    def x_of(v: float) -> float:
        return plot_x + (v - lo) / span * plot_w

    digest = hashlib.sha256(repr((title, description, list(bars))).encode()).hexdigest()[:10]
    tid, did = f"chart-{digest}-title", f"chart-{digest}-desc"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{_fmt(height)}" '
        f'viewBox="0 0 {width} {_fmt(height)}" role="img" aria-labelledby="{tid} {did}">',
        f'<title id="{tid}">{escape(title)}</title>',
        f'<desc id="{did}">{escape(description or title)}</desc>',
        f'<g {_FONT} fill="#222">',
        f'<text x="{pad}" y="18" font-weight="bold">{escape(title)}</text>',
    ]
    for i, (label, value) in enumerate(bars):
        y = head + i * (bar_height + gap)
        text_y = _fmt(y + bar_height / 2 + 4)
        shown = _UNDEFINED if value is None else f"{value:.{digits}f}"
        out.append(f"<g><title>{escape(f'{label}: {shown}')}</title>")
        out.append(
            f'<text x="{_fmt(plot_x - pad)}" y="{text_y}" text-anchor="end">{escape(label)}</text>'
        )
        if value is None:
            out.append(
                f'<text x="{_fmt(zero_x + 4)}" y="{text_y}" font-style="italic" '
                f'fill="#666">{_UNDEFINED}</text>'
            )
        else:
            x0 = min(zero_x, zero_x + value / span * plot_w)
            w = abs(value) / span * plot_w
            color = _NEGATIVE if value < 0 else _BAR
            out.append(
                f'<rect x="{_fmt(x0)}" y="{_fmt(y)}" width="{_fmt(w)}" '
                f'height="{bar_height}" fill={quoteattr(color)}/>'
            )
            out.append(
                f'<text x="{_fmt(plot_x + plot_w + pad)}" y="{text_y}">{escape(shown)}</text>'
            )
        iv = ivs[i]
        if iv is not None and value is not None:
            mid = _fmt(y + bar_height / 2)
            x1, x2 = _fmt(x_of(iv[0])), _fmt(x_of(iv[1]))
            out.append(
                f'<path d="M{x1} {mid}H{x2}M{x1} {_fmt(y + 5)}V{_fmt(y + bar_height - 5)}'
                f'M{x2} {_fmt(y + 5)}V{_fmt(y + bar_height - 5)}" stroke="#111" '
                'stroke-width="1.2" fill="none"/>'
            )
        flag = (flags or [""] * len(bars))[i]
        if flag:
            out.append(
                f'<text x="{_fmt(width - pad)}" y="{text_y}" text-anchor="end" '
                f'font-style="italic" fill="#8a4b00">{escape(flag)}</text>'
            )
        out.append("</g>")
    axis_y = head + bars_h
    axis_top = _fmt(head - 2)
    out.append(
        f'<line x1="{_fmt(zero_x)}" y1="{axis_top}" x2="{_fmt(zero_x)}" y2="{_fmt(axis_y)}" '
        'stroke="#444" stroke-width="1"/>'
    )
    out.append(
        f'<line x1="{_fmt(plot_x)}" y1="{_fmt(axis_y)}" x2="{_fmt(plot_x + plot_w)}" '
        f'y2="{_fmt(axis_y)}" stroke="#444" stroke-width="1"/>'
    )
    for t in nice_ticks(lo, hi):
        tx = _fmt(x_of(t))
        out.append(
            f'<line x1="{tx}" y1="{_fmt(axis_y)}" x2="{tx}" y2="{_fmt(axis_y + 4)}" '
            'stroke="#444" stroke-width="1"/>'
        )
        out.append(
            f'<text x="{tx}" y="{_fmt(axis_y + 15)}" text-anchor="middle" font-size="10">'
            f"{_tick(t)}</text>"
        )
    if axis_label:
        out.append(
            f'<text x="{_fmt(plot_x + plot_w / 2)}" y="{_fmt(axis_y + 29)}" '
            f'text-anchor="middle" font-size="11">{escape(axis_label)}</text>'
        )
    if reference is not None and math.isfinite(reference):
        rx = _fmt(x_of(reference))
        out.append(
            f'<line x1="{rx}" y1="{axis_top}" x2="{rx}" y2="{_fmt(axis_y)}" stroke="#b5523b" '
            'stroke-width="1.2" stroke-dasharray="4 3"/>'
        )
        if reference_label:
            out.append(
                f'<text x="{rx}" y="{_fmt(head - 5)}" text-anchor="middle" font-size="10" '
                f'fill="#b5523b">{escape(reference_label)} {reference:.{digits}f}</text>'
            )
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"


def _tick(t: float) -> str:
    return f"{t:.4f}".rstrip("0").rstrip(".") or "0"


def xy_chart(
    points: Sequence[tuple[float, float]],
    *,
    title: str,
    description: str = "",
    x_label: str = "",
    y_label: str = "",
    threshold: float | None = None,
    diagonal: bool = True,
    size: int = 320,
) -> str:
    """Points joined by a line on [0, 1] × [0, 1] axes (a calibration plot): ticks, axis
    labels, the diagonal ``y = x`` and a dashed vertical line at ``threshold``."""
    if not points:
        raise ValueError("an xy chart needs at least one point")
    if any(not (math.isfinite(x) and math.isfinite(y)) for x, y in points):
        raise ValueError("point coordinates must be finite")
    hi = max(1.0, *(max(x, y) for x, y in points))
    left, top, right, bottom = 48, 30, 12, 40
    w = h = size - left - right
    width, height = size, top + h + bottom

    def px(x: float) -> float:
        return left + x / hi * w

    def py(y: float) -> float:
        return top + h - y / hi * h

    digest = hashlib.sha256(repr((title, description, list(points))).encode()).hexdigest()[:10]
    tid, did = f"chart-{digest}-title", f"chart-{digest}-desc"
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-labelledby="{tid} {did}">',
        f'<title id="{tid}">{escape(title)}</title>',
        f'<desc id="{did}">{escape(description or title)}</desc>',
        f'<g {_FONT} fill="#222">',
        f'<text x="8" y="18" font-weight="bold">{escape(title)}</text>',
        f'<path d="M{left} {top}V{top + h}H{left + w}" stroke="#444" fill="none"/>',
    ]
    for t in nice_ticks(0.0, hi):
        out.append(
            f'<text x="{_fmt(px(t))}" y="{top + h + 14}" text-anchor="middle" font-size="10">'
            f"{_tick(t)}</text>"
        )
        out.append(
            f'<text x="{left - 5}" y="{_fmt(py(t) + 3)}" text-anchor="end" font-size="10">'
            f"{_tick(t)}</text>"
        )
        out.append(f'<path d="M{_fmt(px(t))} {top + h}v4M{left} {_fmt(py(t))}h-4" stroke="#444"/>')
    if x_label:
        out.append(
            f'<text x="{_fmt(left + w / 2)}" y="{top + h + 30}" text-anchor="middle" '
            f'font-size="11">{escape(x_label)}</text>'
        )
    if y_label:
        cy = _fmt(top + h / 2)
        out.append(
            f'<text x="12" y="{cy}" text-anchor="middle" font-size="11" '
            f'transform="rotate(-90 12 {cy})">{escape(y_label)}</text>'
        )
    if diagonal:
        out.append(
            f'<path d="M{left} {top + h}L{_fmt(px(hi))} {_fmt(py(hi))}" stroke="#999" '
            'stroke-dasharray="2 3" fill="none"/>'
        )
    if threshold is not None and math.isfinite(threshold):
        tx = _fmt(px(threshold))
        out.append(
            f'<path d="M{tx} {top}V{top + h}" stroke="#b5523b" stroke-dasharray="4 3" fill="none"/>'
        )
        out.append(
            f'<text x="{tx}" y="{top - 4}" text-anchor="middle" font-size="10" '
            f'fill="#b5523b">threshold {threshold:g}</text>'
        )
    path = "M" + "L".join(f"{_fmt(px(x))} {_fmt(py(y))}" for x, y in points)
    out.append(f'<path d="{path}" stroke="{_BAR}" stroke-width="1.5" fill="none"/>')
    for x, y in points:
        out.append(
            f'<circle cx="{_fmt(px(x))}" cy="{_fmt(py(y))}" r="3" fill="{_BAR}">'
            f"<title>{escape(f'mean {x:.3f}, observed {y:.3f}')}</title></circle>"
        )
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
