"""A tiny, deterministic SVG bar chart: no plotting library, same input → same bytes.

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

__all__ = ["bar_chart"]

_FONT = 'font-family="system-ui, -apple-system, \'Segoe UI\', sans-serif" font-size="12"'
_CHAR_PX = 6.6  # average glyph width at 12px, for laying out the label column
_BAR = "#3b6ea5"
_NEGATIVE = "#b5523b"
_UNDEFINED = "undefined"


def _fmt(x: float) -> str:
    """A coordinate with at most two decimals and no trailing zeros."""
    text = f"{x:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def bar_chart(
    bars: Sequence[tuple[str, float | None]],
    *,
    title: str,
    description: str = "",
    width: int = 640,
    bar_height: int = 20,
    digits: int = 3,
) -> str:
    """Horizontal bars, one per ``(label, value)``, in the order given; returns SVG text."""
    if not bars:
        raise ValueError("a bar chart needs at least one bar")
    if any(v is not None and not math.isfinite(v) for _, v in bars):
        raise ValueError("bar values must be finite numbers or None")
    values = [v for _, v in bars if v is not None]
    lo = min([0.0, *values])
    hi = max([0.0, *values])
    span = (hi - lo) or 1.0

    pad, gap, head = 8, 6, 28
    label_w = min(width * 0.4, max(len(label) for label, _ in bars) * _CHAR_PX + pad)
    value_w = (digits + 4) * _CHAR_PX + pad
    plot_x = pad + label_w
    plot_w = max(width - plot_x - value_w - pad, 10.0)
    height = head + len(bars) * (bar_height + gap) + pad
    zero_x = plot_x + (0.0 - lo) / span * plot_w

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
        out.append("</g>")
    axis_top, axis_bottom = _fmt(head - 2), _fmt(height - pad + 2)
    out.append(
        f'<line x1="{_fmt(zero_x)}" y1="{axis_top}" x2="{_fmt(zero_x)}" y2="{axis_bottom}" '
        'stroke="#444" stroke-width="1"/>'
    )
    out.append("</g>")
    out.append("</svg>")
    return "\n".join(out) + "\n"
