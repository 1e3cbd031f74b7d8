"""Render the checkout dashboard's availability row to a PNG, from a real Prometheus.

Run: uv sync --group docs && .venv/bin/python -m scripts.dashboard_picture [--minutes 5]

No Grafana runs here, so this draws the generated panels' own queries with matplotlib: the
bundled rules run in Debian's Prometheus over the demo's synthetic service with a
staged incident (5% of checkout requests failing for 15% of the run; the first 5 minutes show
rates warming up, as `rate()` over 5m does on series younger than that), and every series,
threshold and unit comes from the generated dashboard JSON.
"""

from __future__ import annotations

import argparse
import re
import tempfile
import time
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.dates import DateFormatter
from tests.support.boards import row_panels
from tests.support.realprom import Prometheus
from tests.support.synthetic import prometheus_with_traffic

from sloguard.dashboards.service import service_dashboard
from sloguard.loading import load

REPO = Path(__file__).resolve().parents[1]

OUT = REPO / "docs" / "images" / "slo-checkout.png"  # shown by the README and the docs
SERVICE, SLO = "checkout", "availability"
BASELINE, INCIDENT = 0.0003, 0.05
VARIABLE = re.compile(r"\$\{?(\w+)\}?")
BACKGROUND, PANEL, TEXT, GRID = "#111217", "#181b1f", "#ccccdc", "#2c3235"
COLOURS = ["#73bf69", "#f2cc0c", "#8ab8ff", "#ff780a", "#f2495c", "#5794f2", "#b877d9"]
NAMED = {"green": "#73bf69", "red": "#f2495c", "orange": "#ff9830", "yellow": "#fade2a"}


def series(
    prom: Prometheus, panel: dict[str, Any], start: float, end: float
) -> list[tuple[str, list[float], list[float]]]:
    lines = []
    for target in panel["targets"]:
        query = VARIABLE.sub(".*", target["expr"])
        for result in prom.query_range(query, start, end, 2):
            times = [float(t) for t, _ in result["values"]]
            values = [float(v) for _, v in result["values"]]
            legend = target.get("legendFormat", "")
            lines.append((legend if legend != "__auto" else panel["title"], times, values))
    return lines


def draw(
    ax: Any, title: str, lines: list[tuple[str, list[float], list[float]]], panel: dict[str, Any]
) -> None:
    from datetime import UTC, datetime

    ax.set_facecolor(PANEL)
    ax.set_title(title, color=TEXT, loc="left", fontsize=10)
    unit = panel["fieldConfig"]["defaults"].get("unit", "")
    for i, (legend, times, values) in enumerate(lines):
        stamps = [datetime.fromtimestamp(t, UTC) for t in times]
        shown = [v * 100 for v in values] if unit == "percentunit" else values
        dashed = legend == "objective"
        ax.plot(
            stamps,
            shown,
            label=legend,
            lw=1.4,
            ls="--" if dashed else "-",
            color=NAMED["red"] if dashed else COLOURS[i % len(COLOURS)],
        )
    style = (
        panel["fieldConfig"]["defaults"]
        .get("custom", {})
        .get("thresholdsStyle", {})
        .get("mode", "off")
    )
    if style != "off":
        for step in panel["fieldConfig"]["defaults"]["thresholds"]["steps"][1:]:
            value = step["value"] * (100 if unit == "percentunit" else 1)
            ax.axhline(value, color=NAMED.get(step["color"], step["color"]), ls="--", lw=0.9)
    ax.yaxis.set_major_formatter(
        "{x:.1f}%" if unit == "percentunit" else ("{x:g}x" if unit == "x" else "{x:g}")
    )
    if panel["type"] == "state-timeline":  # its value mapping: 0 OK, 1 pending, 2 firing
        states = panel["fieldConfig"]["defaults"]["mappings"][0]["options"]
        ax.set_yticks([int(k) for k in states], [v["text"] for v in states.values()])
    ax.xaxis.set_major_formatter(DateFormatter("%H:%M"))
    ax.tick_params(colors=TEXT, labelsize=8)
    ax.grid(color=GRID, lw=0.5)
    for spine in ax.spines.values():
        spine.set_color(GRID)
    ax.legend(
        fontsize=7, facecolor=PANEL, edgecolor=GRID, labelcolor=TEXT, loc="upper left", ncol=4
    )


def stat(ax: Any, title: str, value: float, panel: dict[str, Any]) -> None:
    steps = panel["fieldConfig"]["defaults"]["thresholds"]["steps"]
    colour = steps[0]["color"]
    for step in steps[1:]:
        if value >= step["value"]:
            colour = step["color"]
    ax.set_facecolor(PANEL)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.text(0.05, 0.85, title, color=TEXT, fontsize=10, transform=ax.transAxes)
    ax.text(
        0.5,
        0.35,
        f"{value * 100:.{panel['fieldConfig']['defaults'].get('decimals', 1)}f}%",
        color=NAMED.get(colour, colour),
        fontsize=26,
        ha="center",
        transform=ax.transAxes,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=8.0)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    loaded = load([REPO / "slo-definitions"])
    board = service_dashboard(next(s for s in loaded.services if s.service == SERVICE))
    panels = row_panels(board, SLO)
    total = args.minutes * 60
    with (
        tempfile.TemporaryDirectory() as temp,
        prometheus_with_traffic(loaded, Path(temp)) as (prom, service),
    ):
        service.conditions.checkout_errors = BASELINE
        started = time.time()
        while (elapsed := time.time() - started) < total:
            incident = 0.55 * total <= elapsed < 0.7 * total
            service.conditions.checkout_errors = INCIDENT if incident else BASELINE
            if int(elapsed) % 30 == 0:
                print(
                    f"{elapsed:4.0f}s of {total:.0f}s{' (incident)' if incident else ''}",
                    flush=True,
                )
            time.sleep(1)
        end = time.time()
        start = started + 20  # from the first scrapes on
        plt.rcParams["font.family"] = "DejaVu Sans"
        figure = plt.figure(figsize=(14, 8), facecolor=BACKGROUND)
        grid = figure.add_gridspec(3, 6, height_ratios=[0.8, 1.3, 1.3], hspace=0.45, wspace=0.6)
        for i, title in enumerate(("SLI over 30d", "Error budget left")):
            value = float(
                prom.query(VARIABLE.sub(".*", panels[title]["targets"][0]["expr"]), end)[0][
                    "value"
                ][1]
            )
            stat(figure.add_subplot(grid[0, i]), title, value, panels[title])
        layout = [
            ("Alerts", grid[0, 2:4]),
            ("Traffic", grid[0, 4:6]),
            ("SLI against objective", grid[1, 0:3]),
            ("Error budget left over 30d", grid[1, 3:6]),
            ("Burn rate per alert window", grid[2, 0:6]),
        ]
        for title, cell in layout:
            draw(
                figure.add_subplot(cell),
                title,
                series(prom, panels[title], start, end),
                panels[title],
            )
        figure.suptitle(
            f"SLOs / {SERVICE}: {SLO}, 99.9% over 30d (drawn from the generated dashboard's queries)",
            color=TEXT,
            x=0.01,
            ha="left",
            fontsize=12,
        )
        args.out.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(args.out, dpi=90, facecolor=BACKGROUND, bbox_inches="tight")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
