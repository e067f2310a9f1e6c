"""Charts drawn on the server as SVG: no script, no network, readable when printed.

Every chart is an `<svg role="img">` with a title naming what it shows; numbers it draws come
from the caller (the dashboard's payload, a goal's readings), never computed here.
"""

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from feedback.models import Quadrant

Point = tuple[float, float]  # (epoch seconds, value)
DAY = 86400.0


@dataclass(frozen=True)
class Line:
    name: str
    points: Sequence[Point]
    css: str = "series-main"
    dots: bool = False


@dataclass(frozen=True)
class Rule:
    """A horizontal line across the chart (a baseline, a target, a threshold)."""

    name: str
    value: float
    css: str = "rule-baseline"


@dataclass(frozen=True)
class Scale:
    lo: float
    hi: float
    px_lo: float
    px_hi: float

    def __call__(self, value: float) -> float:
        span = self.hi - self.lo or 1.0
        return round(self.px_lo + (value - self.lo) / span * (self.px_hi - self.px_lo), 1)


def number(value: float | None, digits: int = 1) -> str:
    if value is None:
        return "\u2013"  # an en dash: no value
    text = f"{value:,.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _svg(
    label: str, width: int, height: int, body: str, css: str = "chart", aspect: str = "xMidYMid meet", **data: str
) -> SafeString:
    attributes = "".join(f' data-{escape(key)}="{escape(value)}"' for key, value in data.items())
    return mark_safe(  # noqa: S308 (every interpolated value is escaped or a number)
        f'<svg class="{escape(css)}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" preserveAspectRatio="{aspect}"{attributes}>'
        f"<title>{escape(label)}</title>{body}</svg>"
    )


def _path(points: Sequence[tuple[float, float]]) -> str:
    return " ".join(f"{'M' if i == 0 else 'L'}{x},{y}" for i, (x, y) in enumerate(points))


SPARK_MIN_SPAN = 20


def sparkline(values: Sequence[float], *, label: str, width: int = 200, height: int = 48, **data: str) -> SafeString:
    """A small line of a score over time, its last value marked; a placeholder without history."""
    if len(values) < 2:
        body = (
            f'<text x="{width / 2}" y="{height / 2 + 4}" text-anchor="middle" class="chart-empty">No history yet</text>'
        )
        return _svg(label, width, height, body, "sparkline", **data)
    lo, hi = min(values), max(values)
    if hi - lo < SPARK_MIN_SPAN:  # a few points of noise should not look like a cliff
        middle = (hi + lo) / 2
        lo, hi = middle - SPARK_MIN_SPAN / 2, middle + SPARK_MIN_SPAN / 2
    x = Scale(0, len(values) - 1, 3, width - 6)
    y = Scale(lo, hi, height - 5, 5)
    points = [(x(i), y(v)) for i, v in enumerate(values)]
    last_x, last_y = points[-1]
    body = (
        f'<path class="spark-line" d="{_path(points)}"/><circle class="spark-dot" cx="{last_x}" cy="{last_y}" r="3.5"/>'
    )
    return _svg(label, width, height, body, "sparkline", **data)


@dataclass
class _Frame:
    width: int
    height: int
    left: int = 56
    right: int = 16
    top: int = 16
    bottom: int = 32
    parts: list[str] = field(default_factory=list)


def line_chart(
    *, label: str, lines: Sequence[Line], rules: Sequence[Rule] = (), y_range: tuple[float, float] | None = None,
    x_range: tuple[float, float] | None = None, width: int = 1100, height: int = 300, unit: str = "",
    data: dict[str, str] | None = None,
) -> SafeString:  # fmt: skip
    """Lines over time with horizontal rules, labelled axes and a legend under the chart."""
    all_points = [p for line in lines for p in line.points]
    data = data or {}
    if not all_points:
        return _empty(label, width, 120, "No data yet", **data)
    xs = [p[0] for p in all_points]
    ys = [p[1] for p in all_points] + [rule.value for rule in rules]
    x_lo, x_hi = x_range or (min(xs), max(xs))
    if x_hi - x_lo < DAY:  # one instant: give it a month either side
        x_lo, x_hi = x_lo - 30 * DAY, x_hi + 30 * DAY
    y_lo, y_hi = y_range or _padded(min(ys), max(ys))
    frame = _Frame(width, height)
    x = Scale(x_lo, x_hi, frame.left, width - frame.right)
    y = Scale(y_lo, y_hi, height - frame.bottom, frame.top)
    frame.parts += _y_axis(frame, y, unit)
    frame.parts += _x_axis(frame, x)
    for rule in rules:
        frame.parts.append(
            f'<line class="{escape(rule.css)}" x1="{frame.left}" x2="{width - frame.right}" '
            f'y1="{y(rule.value)}" y2="{y(rule.value)}"/>'
        )
    for line in lines:
        points = [(x(t), y(v)) for t, v in line.points]
        if len(points) > 1:
            frame.parts.append(f'<path class="{escape(line.css)}" d="{_path(points)}"/>')
        if line.dots or len(points) == 1:
            frame.parts += [f'<circle class="{escape(line.css)} dot" cx="{px}" cy="{py}" r="3"/>' for px, py in points]
    chart = _svg(label, width, height, "".join(frame.parts), **data)
    return format_html('<figure class="figure">{}{}</figure>', chart, legend([*lines, *rules]))


def legend(items: Sequence[Line | Rule]) -> SafeString:
    return format_html(
        '<figcaption class="legend">{}</figcaption>',
        format_html_join(
            "", '<span class="key"><span class="swatch {}"></span>{}</span>', ((i.css, i.name) for i in items)
        ),
    )


def _empty(label: str, width: int, height: int, text: str, **data: str) -> SafeString:
    body = f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" class="chart-empty">{escape(text)}</text>'
    return _svg(label, width, height, body, **data)


def _padded(lo: float, hi: float) -> tuple[float, float]:
    """A range in four round steps (…, 20, 40, 60…) that holds `lo`..`hi` with a margin."""
    span = (hi - lo) or abs(hi) or 1.0
    lo, hi = lo - span * 0.04, hi + span * 0.04
    raw = (hi - lo) / 4
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10, 20):
        step = factor * magnitude
        start = math.floor(lo / step) * step
        if start + 4 * step >= hi:
            return start, start + 4 * step
    return lo, hi


def _y_axis(frame: _Frame, y: Scale, unit: str) -> list[str]:
    parts = []
    step = (y.hi - y.lo) / 4
    digits = next((d for d in range(4) if abs(round(step, d) - step) < 1e-9), 3)
    for i in range(5):
        value = y.lo + step * i
        py = y(value)
        parts.append(f'<line class="grid" x1="{frame.left}" x2="{frame.width - frame.right}" y1="{py}" y2="{py}"/>')
        text = escape(f"{number(value, digits)}{unit}")
        parts.append(f'<text class="axis" x="{frame.left - 6}" y="{py + 4}" text-anchor="end">{text}</text>')
    return parts


def _x_axis(frame: _Frame, x: Scale) -> list[str]:
    parts = []
    for i in range(5):
        ts = x.lo + (x.hi - x.lo) * i / 4
        anchor = "start" if i == 0 else "end" if i == 4 else "middle"
        day = datetime.fromtimestamp(ts, UTC).strftime("%-d %b %Y" if i in (0, 4) else "%-d %b")
        parts.append(
            f'<text class="axis" x="{x(ts)}" y="{frame.height - 10}" text-anchor="{anchor}">{escape(day)}</text>'
        )
    return parts


QUADRANT_CELLS = {
    Quadrant.DIVERGENCE_PERMITTED: (1, 3, 4, 5),  # alignment from..to, confidence from..to
    Quadrant.FULL_SUPPORT: (4, 5, 4, 5),
    Quadrant.CRITICAL: (1, 3, 1, 3),
    Quadrant.NEEDS_GUIDANCE: (4, 5, 1, 3),
}
MATRIX_LINES_PER_CELL = 4


def leadership_matrix(teams: Sequence[dict[str, Any]], *, width: int = 860, height: int = 560) -> SafeString:
    """Every assessed team at its latest alignment (x) by confidence (y), in its quadrant."""
    left, right, top, bottom = 64, 16, 34, 64
    cell_w, cell_h = (width - left - right) / 5, (height - top - bottom) / 5
    parts = []
    for quadrant, (a_lo, a_hi, c_lo, c_hi) in QUADRANT_CELLS.items():
        qx, qy = left + (a_lo - 1) * cell_w, top + (5 - c_hi) * cell_h
        qw, qh = (a_hi - a_lo + 1) * cell_w, (c_hi - c_lo + 1) * cell_h
        parts.append(f'<rect class="quadrant q-{quadrant.value}" x="{qx}" y="{qy}" width="{qw}" height="{qh}"/>')
        label_y = top - 12 if c_hi == 5 else height - 12  # quadrant names sit outside the plot
        parts.append(f'<text class="quadrant-label" x="{qx + 4}" y="{label_y}">{escape(quadrant.label)}</text>')
    for rating in range(1, 6):
        parts.append(
            f'<text class="axis" x="{left + (rating - 0.5) * cell_w}" y="{height - bottom + 18}" '
            f'text-anchor="middle">{rating}</text>'
        )
        parts.append(
            f'<text class="axis" x="{left - 10}" y="{top + (5.5 - rating) * cell_h + 4}" '
            f'text-anchor="end">{rating}</text>'
        )
    parts.append(
        f'<text class="axis-title" x="{left + 2.5 * cell_w}" y="{height - 12}" text-anchor="middle">Alignment →</text>'
        f'<text class="axis-title" x="16" y="{top + 2.5 * cell_h}" text-anchor="middle" '
        f'transform="rotate(-90 16 {top + 2.5 * cell_h})">Confidence →</text>'
    )
    cells: dict[tuple[int, int], list[dict[str, Any]]] = defaultdict(list)
    for team in teams:
        if team.get("alignment") and team.get("confidence"):
            cells[(team["alignment"], team["confidence"])].append(team)
    for (alignment, confidence), members in sorted(cells.items()):
        x0, y0 = left + (alignment - 1) * cell_w + 12, top + (5 - confidence) * cell_h + 26
        shown = members if len(members) <= MATRIX_LINES_PER_CELL else members[: MATRIX_LINES_PER_CELL - 1]
        for i, team in enumerate(shown):
            parts.append(
                f'<g class="matrix-team mq-{escape(team.get("quadrant") or "")}" data-team="{escape(team["name"])}">'
                f'<circle cx="{x0}" cy="{y0 + i * 20 - 5}" '
                f'r="5"/><text x="{x0 + 10}" y="{y0 + i * 20}">{escape(team["name"])}</text></g>'
            )
        if len(shown) < len(members):
            parts.append(
                f'<text class="axis" x="{x0 + 10}" y="{y0 + len(shown) * 20}">+{len(members) - len(shown)} more</text>'
            )
    return _svg("Leadership matrix: each team by its latest alignment and confidence", width, height, "".join(parts))


HEALTH_LABELS = {"on_track": "On track", "at_risk": "At risk", "off_track": "Off track", "no_data": "No data"}


def health_bar(counts: dict[str, int], *, width: int = 200, height: int = 14) -> SafeString:
    """The team's goals by health as one stacked bar."""
    total = sum(counts.values())
    label = ", ".join(f"{counts.get(key, 0)} {name.lower()}" for key, name in HEALTH_LABELS.items())
    if not total:
        body = f'<rect class="h-none" width="{width}" height="{height}"/>'
        return _svg("No active goals", width, height, body, "bar", aspect="none")
    parts, x = [], 0.0
    for key in HEALTH_LABELS:
        share = counts.get(key, 0) / total * width
        if share:
            parts.append(f'<rect class="h-{key}" x="{round(x, 1)}" width="{round(share, 1)}" height="{height}"/>')
            x += share
    return _svg(f"Goals: {label}", width, height, "".join(parts), "bar", aspect="none")
