"""Inline SVG charts for the run report: hand-written markup, no plotting library, no JavaScript.

Each function takes a few already-aggregated numbers (at most some hundred points: a report
never plots per-series data) and returns one `<svg>` element as a string, ready to paste into
HTML. Text is escaped; sizes are in CSS pixels with a `viewBox`, so a chart scales with the page.

- `horizontal_bar_chart`: one bar per label (counts by exception, RMSSE by model).
- `grouped_bar_chart`: a few bars per category (allocated vs fair share per DC).
- `line_chart`: one polyline per named series over a shared numeric x axis (the
  service/inventory frontier: x = holding cost, y = fill rate).

Axis ticks follow Heckbert's "nice numbers" (Graphics Gems, 1990: steps of 1, 2, 5 x 10^k).
Colours are the Okabe-Ito palette, distinguishable with the common colour-vision deficiencies.
"""

from __future__ import annotations

import math
from html import escape
from typing import Callable, Mapping, Sequence

from invspark.errors import InputDataError

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
FONT = "font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif"
AXIS_COLOR = "#555"
GRID_COLOR = "#e3e3e3"


def _nice_number(value: float, round_to_nearest: bool) -> float:
    """Heckbert's nicenum: 1, 2, 5 or 10 x 10^k, nearest to `value` or the smallest >= it."""
    exponent = math.floor(math.log10(value))
    fraction = value / 10.0**exponent
    if round_to_nearest:
        nice = 1.0 if fraction < 1.5 else 2.0 if fraction < 3.0 else 5.0 if fraction < 7.0 else 10.0
    else:
        nice = 1.0 if fraction <= 1.0 else 2.0 if fraction <= 2.0 else 5.0 if fraction <= 5.0 else 10.0
    return nice * 10.0**exponent


def nice_ticks(low: float, high: float, count: int = 5, integer: bool = False) -> list[float]:
    """About `count` round tick values covering `[low, high]` (Heckbert's loose labelling).

    `integer=True` keeps the step at 1 or more (counts have no half rows).
    """
    if not (math.isfinite(low) and math.isfinite(high)):
        return [0.0, 1.0]
    if high < low:
        low, high = high, low
    if high == low:
        pad = abs(high) * 0.1 or 1.0
        low, high = low - pad, high + pad
    span = _nice_number(high - low, round_to_nearest=False)
    step = _nice_number(span / max(count - 1, 1), round_to_nearest=True)
    if integer:
        step = max(step, 1.0)
    start = math.floor(low / step) * step
    stop = math.ceil(high / step) * step
    n_steps = int(round((stop - start) / step))
    return [round(start + i * step, 12) for i in range(n_steps + 1)]


def short_number(value: float) -> str:
    """A compact axis label: 1200 -> '1.2k', 3.5e6 -> '3.5M', 0.25 -> '0.25'."""
    if value is None or not math.isfinite(value):
        return "–"
    size = abs(value)
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if size >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


def percent_label(value: float) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{100 * value:.3g}%"


def _text(x: float, y: float, content: str, anchor: str = "start", size: int = 12, extra: str = "") -> str:
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}" font-size="{size}" fill="#222" {extra}>'
        f"{escape(str(content))}</text>"
    )


TITLE_HEIGHT = 24


def _open(width: float, height: float, title: str) -> str:
    """The `<svg>` start: a visible title line, then the chart drawn below it in a shifted group."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height + TITLE_HEIGHT:.0f}" '
        f'width="{width:.0f}" height="{height + TITLE_HEIGHT:.0f}" role="img" style="{FONT};max-width:100%;height:auto">'
        f"<title>{escape(title)}</title>"
        + _text(4, 15, title, size=13, extra='font-weight="600" class="chart-title"')
        + f'<g transform="translate(0,{TITLE_HEIGHT})">'
    )


def _close() -> str:
    return "</g></svg>"


def _finite(values: Sequence[float]) -> list[float]:
    return [float(v) for v in values if v is not None and math.isfinite(float(v))]


def _value_scale(values: Sequence[float], integer: bool = False) -> tuple[list[float], Callable[[float], float]]:
    """Ticks and a map value -> [0, 1] for a bar axis that always includes 0."""
    finite = _finite(values) or [0.0]
    ticks = nice_ticks(min(0.0, min(finite)), max(0.0, max(finite)), integer=integer)
    low, high = ticks[0], ticks[-1]
    return ticks, (lambda v: (v - low) / (high - low))


def horizontal_bar_chart(
    labels: Sequence[str],
    values: Sequence[float],
    title: str,
    value_format: Callable[[float], str] = short_number,
    width: int = 680,
    bar_height: int = 18,
    color: str = PALETTE[0],
    highlight: Sequence[bool] | None = None,
    integer: bool = False,
) -> str:
    """One horizontal bar per label, its value printed at the bar's end.

    `highlight[i]` draws bar i in the second palette colour (e.g. the champion model);
    `integer=True` puts axis ticks on whole numbers only (counts).
    Bars start at 0; a negative value extends left of the zero line.
    """
    if len(labels) != len(values):
        raise InputDataError(f"labels ({len(labels)}) and values ({len(values)}) must have the same length")
    label_width = min(260, 12 + 7 * max((len(str(label)) for label in labels), default=4))
    plot_left, plot_right = label_width, width - 70
    top, gap = 10, 6
    height = top + len(labels) * (bar_height + gap) + 28
    ticks, scale = _value_scale(values, integer)
    span = plot_right - plot_left
    zero_x = plot_left + scale(0.0) * span
    parts = [_open(width, height, title)]
    axis_y = top + len(labels) * (bar_height + gap)
    for tick in ticks:
        x = plot_left + scale(tick) * span
        parts.append(f'<line x1="{x:.1f}" y1="{top - 4}" x2="{x:.1f}" y2="{axis_y:.1f}" stroke="{GRID_COLOR}"/>')
        parts.append(_text(x, axis_y + 16, short_number(tick), "middle", 11))
    for i, (label, value) in enumerate(zip(labels, values)):
        y = top + i * (bar_height + gap)
        parts.append(_text(plot_left - 8, y + bar_height * 0.72, label, "end"))
        if value is None or not math.isfinite(float(value)):
            parts.append(_text(zero_x + 4, y + bar_height * 0.72, "no data", size=11, extra='fill-opacity="0.6"'))
            continue
        x_end = plot_left + scale(float(value)) * span
        fill = PALETTE[1] if highlight is not None and highlight[i] else color
        parts.append(
            f'<rect class="bar" x="{min(zero_x, x_end):.1f}" y="{y:.1f}" width="{abs(x_end - zero_x):.1f}" '
            f'height="{bar_height}" fill="{fill}"><title>{escape(str(label))}: {escape(value_format(float(value)))}</title></rect>'
        )
        parts.append(_text(max(zero_x, x_end) + 4, y + bar_height * 0.72, value_format(float(value)), size=11))
    parts.append(f'<line x1="{zero_x:.1f}" y1="{top - 4}" x2="{zero_x:.1f}" y2="{axis_y:.1f}" stroke="{AXIS_COLOR}"/>')
    parts.append(_close())
    return "".join(parts)


def grouped_bar_chart(
    categories: Sequence[str],
    groups: Mapping[str, Sequence[float]],
    title: str,
    value_format: Callable[[float], str] = short_number,
    width: int = 680,
    bar_height: int = 12,
) -> str:
    """For each category, one horizontal bar per group (legend on top), e.g. DC x (fair share, allocated)."""
    names = list(groups)
    for name in names:
        if len(groups[name]) != len(categories):
            raise InputDataError(f"group {name!r} has {len(groups[name])} values for {len(categories)} categories")
    label_width = min(260, 12 + 7 * max((len(str(c)) for c in categories), default=4))
    plot_left, plot_right = label_width, width - 70
    legend_height, gap = 24, 10
    block = len(names) * bar_height + gap
    top = legend_height + 6
    axis_y = top + len(categories) * block
    height = axis_y + 28
    ticks, scale = _value_scale([v for name in names for v in groups[name]])
    span = plot_right - plot_left
    zero_x = plot_left + scale(0.0) * span
    parts = [_open(width, height, title)]
    x = plot_left
    for k, name in enumerate(names):
        parts.append(f'<rect x="{x:.1f}" y="6" width="12" height="12" fill="{PALETTE[k % len(PALETTE)]}"/>')
        parts.append(_text(x + 16, 16, name, size=12))
        x += 28 + 7 * len(name)
    for tick in ticks:
        tx = plot_left + scale(tick) * span
        parts.append(f'<line x1="{tx:.1f}" y1="{top - 4}" x2="{tx:.1f}" y2="{axis_y:.1f}" stroke="{GRID_COLOR}"/>')
        parts.append(_text(tx, axis_y + 16, short_number(tick), "middle", 11))
    for i, category in enumerate(categories):
        y0 = top + i * block
        parts.append(_text(plot_left - 8, y0 + len(names) * bar_height / 2 + 4, category, "end"))
        for k, name in enumerate(names):
            value = groups[name][i]
            if value is None or not math.isfinite(float(value)):
                continue
            y = y0 + k * bar_height
            x_end = plot_left + scale(float(value)) * span
            parts.append(
                f'<rect class="bar" x="{min(zero_x, x_end):.1f}" y="{y:.1f}" width="{abs(x_end - zero_x):.1f}" '
                f'height="{bar_height - 1}" fill="{PALETTE[k % len(PALETTE)]}">'
                f"<title>{escape(str(category))}, {escape(name)}: {escape(value_format(float(value)))}</title></rect>"
            )
            parts.append(_text(max(zero_x, x_end) + 4, y + bar_height - 2, value_format(float(value)), size=10))
    parts.append(f'<line x1="{zero_x:.1f}" y1="{top - 4}" x2="{zero_x:.1f}" y2="{axis_y:.1f}" stroke="{AXIS_COLOR}"/>')
    parts.append(_close())
    return "".join(parts)


def _padded(values: Sequence[float], share: float = 0.05) -> tuple[float, float]:
    """`(min, max)` widened by `share` of the span on each side, so no point sits on an axis."""
    low, high = min(values), max(values)
    pad = (high - low) * share
    return low - pad, high + pad


def line_chart(
    series: Mapping[str, tuple[Sequence[float], Sequence[float]]],
    title: str,
    x_label: str,
    y_label: str,
    x_format: Callable[[float], str] = short_number,
    y_format: Callable[[float], str] = percent_label,
    width: int = 680,
    height: int = 380,
    point_labels: Mapping[str, Sequence[str]] | None = None,
    x_max: float | None = None,
    y_bounds: tuple[float, float] | None = (0.0, 1.0),
) -> str:
    """One polyline with point markers per named series, `series[name] = (xs, ys)`.

    `point_labels[name][i]` is written beside point i (e.g. its service-level target) unless
    it would overlap a label already written. Points are drawn in increasing x; non-finite
    points and points beyond `x_max` are left out. The axes span the drawn points with nice
    ticks, the y axis kept within `y_bounds` (default 0..1: shares); it is not forced to start
    at 0, since fill rates of 0.90 .. 0.99 would otherwise be a flat line at the top.
    """
    cleaned: dict[str, list[tuple[float, float, str]]] = {}
    for name, (xs, ys) in series.items():
        labels = list((point_labels or {}).get(name, [""] * len(xs)))
        if not len(xs) == len(ys) == len(labels):
            raise InputDataError(
                f"series {name!r} has {len(xs)} x values, {len(ys)} y values and {len(labels)} labels; "
                "give one of each per point"
            )
        points = [
            (float(x), float(y), str(label)) for x, y, label in zip(xs, ys, labels)
            if x is not None and y is not None and math.isfinite(float(x)) and math.isfinite(float(y))
            and (x_max is None or float(x) <= x_max)
        ]
        cleaned[name] = sorted(points)
    all_x = [x for points in cleaned.values() for x, _, _ in points] or [0.0, 1.0]
    all_y = [y for points in cleaned.values() for _, y, _ in points] or [0.0, 1.0]
    x_ticks, y_ticks = nice_ticks(*_padded(all_x)), nice_ticks(*_padded(all_y))
    if y_bounds is not None:
        inside = [t for t in y_ticks if y_bounds[0] <= t <= y_bounds[1]]
        if len(inside) >= 2 and inside[0] <= min(all_y) and inside[-1] >= max(all_y):
            y_ticks = inside
    legend_width = 30 + 7 * max((len(name) for name in cleaned), default=4)
    left, right, top, bottom = 64, width - legend_width - 10, 14, height - 46

    def px(x: float) -> float:
        return left + (x - x_ticks[0]) / (x_ticks[-1] - x_ticks[0]) * (right - left)

    def py(y: float) -> float:
        return bottom - (y - y_ticks[0]) / (y_ticks[-1] - y_ticks[0]) * (bottom - top)

    parts = [_open(width, height, title)]
    for tick in x_ticks:
        parts.append(f'<line x1="{px(tick):.1f}" y1="{top}" x2="{px(tick):.1f}" y2="{bottom}" stroke="{GRID_COLOR}"/>')
        parts.append(_text(px(tick), bottom + 16, x_format(tick), "middle", 11))
    for tick in y_ticks:
        parts.append(f'<line x1="{left}" y1="{py(tick):.1f}" x2="{right}" y2="{py(tick):.1f}" stroke="{GRID_COLOR}"/>')
        parts.append(_text(left - 6, py(tick) + 4, y_format(tick), "end", 11))
    parts.append(f'<polyline points="{left},{top} {left},{bottom} {right},{bottom}" fill="none" stroke="{AXIS_COLOR}"/>')
    parts.append(_text((left + right) / 2, height - 8, x_label, "middle", 12))
    parts.append(_text(14, (top + bottom) / 2, y_label, "middle", 12, f'transform="rotate(-90 14 {(top + bottom) / 2:.1f})"'))
    placed: list[tuple[float, float, float, float]] = []  # label boxes (x0, y0, x1, y1) already written

    def free(x0: float, y0: float, x1: float, y1: float) -> bool:
        return all(x1 < a0 or x0 > a1 or y1 < b0 or y0 > b1 for a0, b0, a1, b1 in placed)

    for k, (name, points) in enumerate(cleaned.items()):
        color = PALETTE[k % len(PALETTE)]
        coordinates = " ".join(f"{px(x):.1f},{py(y):.1f}" for x, y, _ in points)
        parts.append(f'<polyline class="series" data-name="{escape(name)}" points="{coordinates}" fill="none" stroke="{color}" stroke-width="2"/>')
        for x, y, label in points:
            parts.append(
                f'<circle cx="{px(x):.1f}" cy="{py(y):.1f}" r="3.5" fill="{color}">'
                f"<title>{escape(name)}: {escape(x_format(x))}, {escape(y_format(y))}</title></circle>"
            )
            box = (px(x) + 5, py(y) - 16, px(x) + 9 + 6 * len(label), py(y) - 4)
            if label and free(*box):
                placed.append(box)
                parts.append(_text(px(x) + 6, py(y) - 6, label, size=10, extra='fill-opacity="0.8" class="point-label"'))
        legend_y = top + 8 + 18 * k
        parts.append(f'<line x1="{right + 14}" y1="{legend_y}" x2="{right + 32}" y2="{legend_y}" stroke="{color}" stroke-width="3"/>')
        parts.append(_text(right + 36, legend_y + 4, name, size=12))
    parts.append(_close())
    return "".join(parts)
