"""Server-rendered SVG time-series charts: no JavaScript needed, legible on a phone, accessible by title.

Each point carries a CSS class (its NEWS2 band, e.g. ``s0``..``s3`` for a sub-score) so the colours live in
the stylesheet; an optional horizontal target line (the 80% utilisation target) is drawn dashed, and optional
horizontal bands (NEWS2's medium and high, the SpO2 target range of the patient's scale) are shaded behind
the line with their names written in them, so colour is never the only carrier.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

WIDTH = 600
HEIGHT = 160
PAD_LEFT = 40
PAD_RIGHT = 10
PAD_TOP = 10
PAD_BOTTOM = 22


@dataclass(frozen=True)
class Band:
    """A shaded horizontal range of the y axis, named in the chart."""

    lo: float
    hi: float
    css: str
    label: str


@dataclass(frozen=True)
class Point:
    at: datetime
    value: float
    css: str = ""


def _x(at: datetime, start: datetime, end: datetime) -> float:
    span = (end - start).total_seconds() or 1.0
    frac = min(1.0, max(0.0, (at - start).total_seconds() / span))
    return PAD_LEFT + frac * (WIDTH - PAD_LEFT - PAD_RIGHT)


def _y(value: float, lo: float, hi: float) -> float:
    span = (hi - lo) or 1.0
    frac = min(1.0, max(0.0, (value - lo) / span))
    return HEIGHT - PAD_BOTTOM - frac * (HEIGHT - PAD_TOP - PAD_BOTTOM)


def time_series_svg(
    points: Sequence[Point],
    *,
    start: datetime,
    end: datetime,
    y_range: tuple[float, float],
    title: str,
    unit: str = "",
    target: float | None = None,
    time_format: str = "%d %b %H:%M",
    bands: Sequence[Band] = (),
) -> str:
    """An SVG line-and-dot chart of ``points`` between ``start`` and ``end`` (values clipped to ``y_range``)."""
    lo, hi = y_range
    if hi <= lo:
        raise ValueError("y_range must rise")
    if end <= start:
        raise ValueError("end must be after start")
    inside = sorted((p for p in points if start <= p.at <= end), key=lambda p: p.at)
    label = f"{title}: {len(inside)} values" + (f", latest {inside[-1].value:g} {unit}".rstrip() if inside else "")
    parts = [
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(label)}" '
        f'xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
    ]
    for band in bands:
        top, bottom = _y(band.hi, lo, hi), _y(band.lo, lo, hi)
        parts.append(
            f'<rect class="band {escape(band.css)}" x="{PAD_LEFT}" y="{top:.1f}" width="{WIDTH - PAD_LEFT - PAD_RIGHT}"'
            f' height="{bottom - top:.1f}"/><text class="bandlabel" x="{WIDTH - PAD_RIGHT - 4}" y="{top + 11:.1f}"'
            f' text-anchor="end">{escape(band.label)}</text>'
        )
    parts.append(f'<text class="ctitle" x="{PAD_LEFT + 4}" y="{PAD_TOP + 12}">{escape(title)}</text>')
    parts.append(
        f'<line class="axis" x1="{PAD_LEFT}" y1="{HEIGHT - PAD_BOTTOM}" x2="{WIDTH - PAD_RIGHT}" '
        f'y2="{HEIGHT - PAD_BOTTOM}"/>'
    )
    for value in (lo, hi):
        parts.append(
            f'<text class="tick" x="{PAD_LEFT - 4}" y="{_y(value, lo, hi) + 4:.1f}" text-anchor="end">{value:g}</text>'
        )
    for at, anchor in ((start, "start"), (end, "end")):
        parts.append(
            f'<text class="tick" x="{_x(at, start, end):.1f}" y="{HEIGHT - 6}" '
            f'text-anchor="{anchor}">{escape(at.strftime(time_format))}</text>'
        )
    if target is not None:
        ty = _y(target, lo, hi)
        parts.append(f'<line class="target" x1="{PAD_LEFT}" y1="{ty:.1f}" x2="{WIDTH - PAD_RIGHT}" y2="{ty:.1f}"/>')
    if len(inside) > 1:
        path = " ".join(f"{_x(p.at, start, end):.1f},{_y(p.value, lo, hi):.1f}" for p in inside)
        parts.append(f'<polyline class="line" points="{path}"/>')
    for p in inside:
        parts.append(
            f'<circle class="pt {escape(p.css)}" cx="{_x(p.at, start, end):.1f}" '
            f'cy="{_y(p.value, lo, hi):.1f}" r="3"><title>{escape(p.at.strftime(time_format))} '
            f"{p.value:g} {escape(unit)}</title></circle>"
        )
    if not inside:
        parts.append(f'<text class="empty" x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle">No data</text>')
    parts.append("</svg>")
    return "".join(parts)
