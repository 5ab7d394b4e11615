"""Geometry of the report's charts: numbers only, for the SVG the template writes.

Each function returns plain dicts of coordinates, labels and CSS class names;
``crawler/data/templates/report_charts.html.j2`` turns them into inline SVG
(``<rect>``, ``<line>``, ``<text>``), autoescaped like every other string.
No markup is built here, so no string from a ledger reaches the page unescaped.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

#: The series of the decision charts: key, label, CSS class.
OUTCOMES = (("allowed", "allowed", "s-allowed"),
            ("refused", "refused before download", "s-refused"),
            ("dropped", "dropped after download", "s-dropped"),
            ("failed", "failed download", "s-failed"),
            ("other", "other", "s-other"))


def nice_ticks(top: float, count: int = 4) -> list[int]:
    """Round tick values from 0 to at least ``top`` (1, 2, 2.5 or 5 times a
    power of ten apart)."""
    if top <= 0:
        return [0, 1]
    raw = top / count
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    step = max(1, int(math.ceil(step)))
    return [i * step for i in range(int(math.ceil(top / step)) + 1)]


def short(n: float) -> str:
    """An axis label: 1200 -> 1.2k, 3000000 -> 3M."""
    for size, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(n) >= size:
            return f"{n / size:.3g}{unit}"
    return f"{n:g}"


def stacked_columns(labels: Sequence[str], values: Sequence[Mapping[str, Any]],
                    series: Sequence[tuple[str, str, str]] = OUTCOMES, *,
                    width: int = 960, height: int = 280) -> dict[str, Any]:
    """Vertical stacked bars, one per label (a time bucket), bottom-up in
    ``series`` order. Each segment carries a tooltip (``title``)."""
    left, right, top, bottom = 56, 12, 12, 44
    plot_w, plot_h = width - left - right, height - top - bottom
    totals = [sum(v.get(k, 0) for k, _l, _c in series) for v in values]
    ticks = nice_ticks(max(totals, default=0))
    scale = plot_h / ticks[-1]
    n = max(1, len(labels))
    slot = plot_w / n
    bar_w = max(1.0, slot * 0.8)
    bars = []
    for i, (label, v) in enumerate(zip(labels, values, strict=True)):
        x = left + i * slot + (slot - bar_w) / 2
        y = float(top + plot_h)
        segments = []
        for key, name, css in series:
            count = v.get(key, 0)
            if not count:
                continue
            h = count * scale
            y -= h
            segments.append({"x": round(x, 2), "y": round(y, 2), "w": round(bar_w, 2),
                             "h": round(h, 2), "css": css,
                             "title": f"{label}: {count:,} {name}"})
        bars.append(segments)
    every = max(1, math.ceil(n / 10))  # at most about ten labels under the axis
    xlabels = [{"x": round(left + i * slot + slot / 2, 2), "text": label}
               for i, label in enumerate(labels) if i % every == 0]
    yticks = [{"y": round(top + plot_h - t * scale, 2), "text": short(t)} for t in ticks]
    return {"width": width, "height": height, "left": left, "right": width - right,
            "top": top, "base": top + plot_h, "label_y": top + plot_h + 18,
            "bars": bars, "xlabels": xlabels, "yticks": yticks,
            "legend": [{"css": c, "text": name} for _k, name, c in series
                       if any(v.get(_k, 0) for v in values)]}


def stacked_rows(rows: Sequence[tuple[str, Mapping[str, Any]]],
                 series: Sequence[tuple[str, str, str]], *, width: int = 960,
                 label_w: int = 260, row_h: int = 24) -> dict[str, Any]:
    """Horizontal stacked bars, one per ``(label, values)`` row, labels on
    the left (cut to fit, the whole label in the tooltip), total on the right."""
    right_w = 80
    plot_w = width - label_w - right_w
    totals = [sum(v.get(k, 0) for k, _l, _c in series) for _label, v in rows]
    top_value = max(totals, default=0) or 1
    out = []
    for i, ((label, v), total) in enumerate(zip(rows, totals, strict=True)):
        y = 4 + i * row_h
        x = float(label_w)
        segments = []
        for key, name, css in series:
            count = v.get(key, 0)
            if not count:
                continue
            w = max(1.0, count / top_value * plot_w)
            segments.append({"x": round(x, 2), "y": y + 3, "w": round(w, 2), "h": row_h - 8,
                             "css": css, "title": f"{label}: {count:,} {name}"})
            x += w
        out.append({"label": label if len(label) <= 34 else label[:33] + "\u2026",
                    "full": label, "y": y + row_h / 2 + 4, "segments": segments,
                    "total": f"{total:,}", "total_x": round(x + 6, 2)})
    return {"width": width, "height": 8 + len(rows) * row_h, "label_x": label_w - 8,
            "rows": out,
            "legend": [{"css": c, "text": name} for k, name, c in series
                       if any(v.get(k, 0) for _label, v in rows)]}
