"""Validate + generate + write rules and dashboards for many SLOs, end to end through the CLI.

Run: .venv/bin/python -m bench.generation [--slos 1000] [--repeat 5]
Prints wall time (median and best of the repeats); the peak resident memory of `sloguard` and
the worker that makes the dashboards beside the rules, added up, and of the largest process
alone; and the same pipeline in-process phase by phase, one after another (each output's texts
made and written file by file): what dashboards add is their phase plus importing grafanalib.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

from bench.process import tree_rss_mb
from sloguard.tools import check_rules

SLOS_PER_SERVICE = 10

SLO_TEMPLATES = [
    """\
      - name: availability-{i}
        objective: 99.9
        sli:
          events:
            errors: sum(rate(http_requests_total{{job="{svc}",route="/r{i}",code=~"5.."}}[{{{{window}}}}]))
            total: sum(rate(http_requests_total{{job="{svc}",route="/r{i}"}}[{{{{window}}}}]))
        alerting:
          runbook: https://runbooks.example.com/{svc}/{i}
          min_events: 20
    """,
    """\
      - name: latency-{i}
        objective: 99
        window: 28d
        sli:
          latency:
            metric: http_request_duration_seconds
            selector: {{job: "{svc}", route: "/r{i}"}}
            threshold: 300ms
    """,
    """\
      - name: good-{i}
        objective: 99.5
        window: month
        sli:
          events:
            good: sum by (method) (rate(grpc_server_handled_total{{job="{svc}",grpc_code="OK"}}[{{{{window}}}}]))
            total: sum by (method) (rate(grpc_server_handled_total{{job="{svc}"}}[{{{{window}}}}]))
    """,
]


def write_definitions(directory: Path, slos: int, calendar: bool = True) -> None:
    """`slos` SLOs, ten a service, the three templates in turn; without `calendar`, the
    calendar-month SLOs are over a rolling 30d instead."""
    for s in range(0, slos, SLOS_PER_SERVICE):
        svc = f"service-{s // SLOS_PER_SERVICE:04d}"
        body = "".join(
            textwrap.indent(
                textwrap.dedent(SLO_TEMPLATES[i % len(SLO_TEMPLATES)]).format(svc=svc, i=i), "  "
            )
            for i in range(s, min(s + SLOS_PER_SERVICE, slos))
        )
        if not calendar:
            body = body.replace("window: month", "window: 30d")
        (directory / f"{svc}.yaml").write_text(
            f"service: {svc}\nlabels: {{team: t}}\nslos:\n{body}"
        )


def run_once(definitions: Path, out: Path, boards: Path) -> tuple[float, float]:
    """Wall time, and the peak of the resident memory of `sloguard` and its workers together
    (sampled every 10 ms)."""
    sloguard = Path(sys.executable).with_name("sloguard")
    started = time.perf_counter()
    command = [
        str(sloguard), "generate", str(definitions),
        "--rules-out", str(out), "--dashboards-out", str(boards),
    ]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as running:
        peak = 0.0
        while running.poll() is None:
            peak = max(peak, tree_rss_mb(running.pid))
            time.sleep(0.01)
        elapsed = time.perf_counter() - started
        if running.returncode:
            sys.exit(f"sloguard generate failed: {running.communicate()[1].decode()}")
    return elapsed, peak


def phases(definitions: Path, out: Path) -> dict[str, float]:
    """The same pipeline in-process, phase by phase (no interpreter start or imports)."""
    from sloguard.dashboards.output import dashboard_files
    from sloguard.files import write_files
    from sloguard.loading import load
    from sloguard.rules.output import RuleFormat, render_rule_files

    timings = {}
    started = time.perf_counter()
    loaded = load([definitions])
    timings["read + validate"] = time.perf_counter() - started
    # The texts are made as they are written, one file at a time.
    started = time.perf_counter()
    write_files(out, render_rule_files(loaded.services, loaded.sources, RuleFormat.PROMETHEUS))
    timings["rules"] = time.perf_counter() - started
    started = time.perf_counter()
    write_files(
        out.with_name(out.name + "-dashboards"), dashboard_files(loaded.services, loaded.sources)
    )
    timings["dashboards"] = time.perf_counter() - started
    return timings


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        definitions, out, boards = Path(temp) / "defs", Path(temp) / "rules", Path(temp) / "boards"
        definitions.mkdir()
        write_definitions(definitions, args.slos)
        times, peaks = [], []
        for _ in range(args.repeat):
            elapsed, peak = run_once(definitions, out, boards)
            times.append(elapsed)
            peaks.append(peak)
        largest = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        inner = [phases(definitions, Path(temp) / "inner") for _ in range(args.repeat)]
        files = list(out.iterdir())
        size = sum(f.stat().st_size for f in files)
        rules = sum(
            f.read_text().count("\n  - record:") + f.read_text().count("\n  - alert:")
            for f in files
        )
        board_sizes = [f.stat().st_size for f in boards.glob("*.json")]
        check = check_rules(files)
    print(
        f"generate {args.slos} SLOs ({len(files)} services, {rules} rules, "
        f"{size / 1e6:.1f} MB of YAML), end to end through the CLI:"
    )
    print(
        f"  wall time: median {statistics.median(times):.2f}s, best {min(times):.2f}s "
        f"over {args.repeat} runs"
    )
    print(
        f"  peak RSS: {max(peaks):.0f} MB for the processes together (sampled), "
        f"{largest:.0f} MB for the largest alone"
    )
    best = {name: min(run[name] for run in inner) for name in inner[0]}
    print(
        "  in-process, one phase after another, best of runs: "
        + ", ".join(f"{k} {v:.2f}s" for k, v in best.items())
        + f" = {sum(best.values()):.2f}s"
    )
    print(f"  promtool check rules: {'ok' if check.ok else 'FAILED'}")
    print(
        f"  dashboards: {len(board_sizes)} files, {sum(board_sizes) / 1e6:.1f} MB of JSON; they add "
        f"{best['dashboards']:.2f}s in-process "
        f"+ {grafanalib_import_seconds():.2f}s to import grafanalib"
    )


def grafanalib_import_seconds() -> float:
    """What importing the dashboard builder costs a fresh interpreter (best of 3)."""
    code = "import time; t = time.perf_counter(); import grafanalib.core; print(time.perf_counter() - t)"
    return min(
        float(
            subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
        )
        for _ in range(3)
    )


if __name__ == "__main__":
    main()
