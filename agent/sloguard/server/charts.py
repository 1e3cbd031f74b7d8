"""Charts drawn on the server as SVG (no script, no CDN, nothing to build): numbers in, markup
out. Only numbers and fixed words reach the markup, so nothing a caller sent can run."""

from __future__ import annotations

from collections.abc import Sequence

Points = Sequence[tuple[float, float]]  # (Unix time, value)

WIDTH, HEIGHT = 560, 160
LEFT, RIGHT, TOP, BOTTOM = 64, 96, 12, 24  # room for the axis labels and the legend


def percent(value: float) -> str:
    return f"{value * 100:.3g}%"


def comparison(canary: Points, baseline: Points) -> str:
    """Canary and baseline error ratio per interval, side by side over the analysis window,
    each with its mean drawn (the comparison ranks exactly these intervals)."""
    series = [("canary", canary, "#b00020", ""), ("baseline", baseline, "#1f4e99", "6 4")]
    times = [t for _, points, _, _ in series for t, _ in points]
    values = [v for _, points, _, _ in series for _, v in points]
    label = (
        f"Error ratio per interval: canary mean {percent(_mean(canary))} over {len(canary)} "
        f"intervals, baseline mean {percent(_mean(baseline))} over {len(baseline)}"
    )
    if not times:
        return _svg(label, ['<text x="12" y="24">no intervals with traffic were read</text>'])
    start, end = min(times), max(times)
    top = max(max(values), 1e-9) * 1.1
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x(t: float) -> float:
        return LEFT + (0.5 if end == start else (t - start) / (end - start)) * plot_w

    def y(v: float) -> float:
        return TOP + plot_h - v / top * plot_h

    parts = [
        f'<line class="axis" x1="{LEFT}" y1="{TOP + plot_h}" x2="{LEFT + plot_w}" '
        f'y2="{TOP + plot_h}"/>',
        f'<line class="axis" x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 10}" text-anchor="end">{percent(top)}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end">0%</text>',
        f'<text x="{LEFT}" y="{HEIGHT - 6}">intervals over {_minutes(end - start)}</text>',
    ]
    for row, (name, points, colour, dash) in enumerate(series):
        if not points:
            continue
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        path = " ".join(f"{x(t):.1f},{y(v):.1f}" for t, v in points)
        parts.append(
            f'<polyline class="series" data-series="{name}" data-points="{len(points)}" '
            f'points="{path}" stroke="{colour}"{dashes}/>'
        )
        mean = y(_mean(points))
        parts.append(
            f'<line x1="{LEFT}" y1="{mean:.1f}" x2="{LEFT + plot_w}" y2="{mean:.1f}" '
            f'stroke="{colour}" stroke-opacity=".45"{dashes}/>'
        )
        legend_y = TOP + 14 + row * 18
        parts.append(
            f'<text x="{LEFT + plot_w + 8}" y="{legend_y}" fill="{colour}">'
            f"{'—' if not dash else '- -'} {name}</text>"
        )
    return _svg(label, parts)


def _svg(label: str, parts: list[str]) -> str:
    return (
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" '
        f'role="img" aria-label="{label}"><title>{label}</title>{"".join(parts)}</svg>'
    )


def _mean(points: Points) -> float:
    return sum(v for _, v in points) / len(points) if points else 0.0


def _minutes(seconds: float) -> str:
    minutes = seconds / 60
    return f"{minutes:.0f} min" if minutes >= 1 else f"{seconds:.0f} s"
