"""Charts drawn on the server as SVG (no script, no CDN, nothing to build): numbers in, markup
out. Only numbers and the fixed words the console passes reach the markup, escaped all the
same, so nothing a caller or Prometheus sent can run."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from html import escape

Points = Sequence[tuple[float, float]]  # (Unix time, value)

WIDTH, HEIGHT = 560, 170
LEFT, RIGHT, TOP, BOTTOM = 64, 120, 12, 24  # room for the axis labels and the legend
COLOURS = ("#b00020", "#1f4e99", "#1b5e20", "#7a4a00", "#5c2d91", "#00626b")
DASHES = ("", "6 4", "2 3", "8 3 2 3")
FEW_POINTS = 40


@dataclass(frozen=True)
class Drawn:
    """One line of a chart, named in its legend."""

    name: str
    points: Points


@dataclass(frozen=True)
class Chart:
    """What a chart shows besides its lines: horizontal lines at values (an objective, a
    threshold), vertical marks at times (a window's start), shaded spans (an alert firing)."""

    label: str  # the text alternative: what the chart says, in words
    value: Callable[[float], str]  # how the axis writes a value
    levels: Sequence[tuple[float, str]] = ()
    marks: Sequence[tuple[float, str]] = ()
    spans: Sequence[tuple[float, float]] = ()
    floor: float | None = 0.0  # the lowest value shown (None: the lowest drawn)
    lines: Sequence[Drawn] = field(default_factory=tuple)
    within: tuple[float, float] | None = None  # the times shown (None: those drawn)


def percent(value: float) -> str:
    return f"{value * 100:.4g}%"


def times(value: float) -> str:
    return f"{value:.3g}x"


def per_second(value: float) -> str:
    return f"{value:.3g}/s"


def comparison(canary: Points, baseline: Points) -> str:
    """Canary and baseline error ratio per interval, side by side over the analysis window,
    each with its mean drawn across (the comparison ranks exactly these intervals)."""
    label = (
        f"Error ratio per interval: canary mean {percent(_mean(canary))} over {len(canary)} "
        f"intervals, baseline mean {percent(_mean(baseline))} over {len(baseline)}"
    )
    drawn = [Drawn("canary", canary), Drawn("baseline", baseline)]
    means = [(_mean(d.points), f"{d.name} mean") for d in drawn if d.points]
    return draw(Chart(label, percent, levels=means, lines=drawn))


def sparkline(points: Points, start: float, end: float) -> str:
    """Error budget left over a window as a line a row high; 0 (spent) drawn when crossed."""
    points = _finite(points)
    if not points or not end > start:
        return ""
    values = [v for _, v in points]
    low, high = min(0.0, *values), max(1.0, *values)
    width, height = 96, 22

    def x(t: float) -> float:  # room for the newest point's dot at either end
        return 3 + (t - start) / (end - start) * (width - 6)

    def y(v: float) -> float:
        return 3 + (high - v) / (high - low) * (height - 6)

    path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
    label = escape(
        f"error budget left over the window: {percent(values[0])} to {percent(values[-1])}"
    )
    zero = (
        f'<line class="level" x1="0" y1="{y(0):.1f}" x2="{width}" y2="{y(0):.1f}"/>'
        if low < 0
        else ""
    )
    return (
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{label}"><title>{label}</title>{zero}'
        f'<polyline points="{path}" data-points="{len(points)}"/>'
        f'<circle cx="{x(points[-1][0]):.1f}" cy="{y(values[-1]):.1f}" r="2"/></svg>'
    )


def shift(
    estimate: float, low: float | None, high: float | None, bound: float, confidence: float
) -> str:
    """The comparison's verdict drawn: how much higher the canary's error ratio is than the
    baseline's (the estimate, and its interval at `confidence`; an end the samples cannot
    reach is open), against the bound the interval must clear to fail the canary."""
    known = [v for v in (estimate, low, high, bound, 0.0) if v is not None and math.isfinite(v)]
    first, last = min(known), max(known)
    if last - first < 1e-12:
        first, last = first - 1e-4, last + 1e-4
    pad = (last - first) * 0.1
    first, last = first - pad, last + pad
    width, height, left, right, middle = WIDTH, 64, 24, 24, 30

    def x(v: float | None, open_end: float) -> float:
        if v is None or not math.isfinite(v):
            return open_end
        return left + (v - first) / (last - first) * (width - left - right)

    low_x, high_x = x(low, left - 12), x(high, width - right + 12)
    said = (
        f"Canary error ratio minus baseline: estimate {percent(estimate)}, "
        f"{confidence:.0%} interval {'open' if low is None else percent(low)} to "
        f"{'open' if high is None else percent(high)}; the canary fails when the interval "
        f"starts above {percent(bound)}"
    )
    parts = [
        f'<line class="axis" x1="{left}" y1="{middle}" x2="{width - right}" y2="{middle}"/>',
        f'<line class="level" x1="{x(0.0, 0):.1f}" y1="{middle - 14}" x2="{x(0.0, 0):.1f}" '
        f'y2="{middle + 14}"/>',
        _text(x(0.0, 0), middle + 26, "0 (no shift)", "middle"),
        f'<line class="mark" x1="{x(bound, 0):.1f}" y1="{middle - 18}" x2="{x(bound, 0):.1f}" '
        f'y2="{middle + 6}"/>',
        _text(x(bound, 0) - 3, middle - 12, f"bound {percent(bound)}", "end"),
        f'<line class="interval" x1="{low_x:.1f}" y1="{middle}" x2="{high_x:.1f}" '
        f'y2="{middle}" data-low="{low}" data-high="{high}"/>',
        f'<circle cx="{x(estimate, 0):.1f}" cy="{middle}" r="4" class="estimate" '
        f'data-estimate="{estimate:.6g}"/>',
        _text(x(estimate, 0), middle + 26, f"shift {percent(estimate)}", "middle"),
    ]
    return (
        f'<svg class="chart" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
        f'role="img" aria-label="{escape(said)}"><title>{escape(said)}</title>'
        f"{''.join(parts)}</svg>"
    )


def evidence(ratio: float, needed: float, errors: float, expected: float) -> str:
    """The sequential comparison's verdict drawn: the likelihood ratio that the canary fails
    more often than the baseline, on a log scale, against the bound it must reach to fail the
    canary (1: the counts say nothing either way)."""
    lowest = math.log10(1 / needed)
    value = math.log10(ratio) if ratio > 0 and math.isfinite(ratio) else lowest
    first = min(lowest, value)
    last = max(2 * math.log10(needed), value) + 0.5
    width, left, right, middle = WIDTH, 24, 24, 30

    def x(v: float) -> float:
        return left + (v - first) / (last - first) * (width - left - right)

    said = (
        f"Likelihood ratio that the canary fails more often than the baseline: {ratio:.3g} "
        f"({errors:.0f} canary errors where at most {expected:.3g} were expected); the canary "
        f"fails at {needed:.3g}"
    )
    parts = [
        f'<line class="axis" x1="{left}" y1="{middle}" x2="{width - right}" y2="{middle}"/>',
        f'<line class="level" x1="{x(0):.1f}" y1="{middle - 14}" x2="{x(0):.1f}" '
        f'y2="{middle + 14}"/>',
        _text(x(0), middle + 26, "1 (no evidence)", "middle"),
        f'<line class="mark" x1="{x(math.log10(needed)):.1f}" y1="{middle - 18}" '
        f'x2="{x(math.log10(needed)):.1f}" y2="{middle + 6}"/>',
        _text(x(math.log10(needed)) - 3, middle - 12, f"fails at {needed:.3g}", "end"),
        f'<circle cx="{x(value):.1f}" cy="{middle}" r="4" class="estimate" '
        f'data-evidence="{ratio:.6g}"/>',
        _text(x(value), middle + 26, f"{ratio:.3g}", "middle"),
    ]
    return (
        f'<svg class="chart" viewBox="0 0 {width} 64" width="{width}" height="64" '
        f'role="img" aria-label="{escape(said)}"><title>{escape(said)}</title>'
        f"{''.join(parts)}</svg>"
    )


def draw(chart: Chart) -> str:
    """The chart as an SVG element, with its text alternative."""
    lines = [Drawn(d.name, _finite(d.points)) for d in chart.lines]
    lines = [d for d in lines if d.points]
    stamps = [t for d in lines for t, _ in d.points]
    if not stamps:
        return _svg(chart.label, ['<text x="12" y="24">nothing was read for this chart</text>'])
    start, end = chart.within or (min(stamps), max(stamps))
    values = [v for d in lines for _, v in d.points] + [v for v, _ in chart.levels]
    low = min(values) if chart.floor is None else min(chart.floor, *values)
    high = max(values)
    if not math.isfinite(high - low):  # values too far apart to scale: none drawn
        return _svg(chart.label, ['<text x="12" y="24">these values cannot be drawn</text>'])
    if high - low < 1e-12:
        high = low + (abs(low) or 1.0) * 0.1
    high += (high - low) * 0.08
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (0.5 if end == start else (t - start) / (end - start)) * plot_w

    def y(v: float) -> float:
        return TOP + plot_h - (v - low) / (high - low) * plot_h

    parts = [
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" '
        f'y2="{TOP + plot_h}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>',
        _text(LEFT - 6, TOP + 10, chart.value(high), "end"),
        _text(LEFT - 6, TOP + plot_h, chart.value(low), "end"),
        _text(LEFT, HEIGHT - 6, f"over {_duration(end - start)}"),
    ]
    for first, last in chart.spans:
        left, right = x(max(first, start)), x(min(last, end))
        parts.append(
            f'<rect class="span" x="{left:.1f}" y="{TOP}" width="{max(2.0, right - left):.1f}" '
            f'height="{plot_h}"/>'
        )
    for at, name in chart.marks:
        if start <= at <= end:
            parts.append(
                f'<line class="mark" x1="{x(at):.1f}" y1="{TOP}" x2="{x(at):.1f}" '
                f'y2="{TOP + plot_h}"/>'
            )
            parts.append(_text(x(at) + 3, TOP + 10, name))
    for value, name in chart.levels:
        parts.append(
            f'<line class="level" x1="{LEFT}" y1="{y(value):.1f}" x2="{LEFT + plot_w}" '
            f'y2="{y(value):.1f}"/>'
        )
        parts.append(_text(LEFT + 4, y(value) - 3, f"{name} {chart.value(value)}"))
    for i, line in enumerate(lines):
        colour, dash = COLOURS[i % len(COLOURS)], DASHES[i % len(DASHES)]
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in line.points)
        parts.append(
            f'<polyline class="series" data-series="{escape(line.name)}" '
            f'data-points="{len(line.points)}" data-last="{line.points[-1][1]:.6g}" '
            f'points="{path}" stroke="{colour}"{dashes}/>'
        )
        if len(line.points) <= FEW_POINTS:  # a line of a few points would hardly show
            parts.extend(
                f'<circle cx="{x(t):.1f}" cy="{y(v):.1f}" r="2.5" fill="{colour}"/>'
                for t, v in line.points
            )
        legend = f"{'—' if not dash else '- -'} {line.name}"
        parts.append(_text(LEFT + plot_w + 8, TOP + 14 + i * 16, legend, fill=colour))
    return _svg(chart.label, parts)


def _text(x: float, y: float, words: str, anchor: str = "start", fill: str = "") -> str:
    colour = f' fill="{fill}"' if fill else ""
    return f'<text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}"{colour}>{escape(words)}</text>'


def _svg(label: str, parts: list[str]) -> str:
    said = escape(label)
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{said}"><title>{said}</title>{"".join(parts)}</svg>'
    )


def _finite(points: Points) -> list[tuple[float, float]]:
    """The points a chart can place (Prometheus may answer NaN or infinity)."""
    return [(t, v) for t, v in points if math.isfinite(t) and math.isfinite(v) and abs(v) < 1e300]


def _mean(points: Points) -> float:
    return sum(v for _, v in points) / len(points) if points else 0.0


def _duration(seconds: float) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            amount = seconds / size
            digits = 0 if math.isclose(amount, round(amount)) else 1
            return f"{amount:.{digits}f} {unit}"
    return f"{seconds:.0f} s"
