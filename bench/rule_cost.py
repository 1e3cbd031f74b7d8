"""Rule-evaluation cost in a real Prometheus: sloguard's rules, Sloth-shaped, Pyrra-shaped.

Run: .venv/bin/python -m bench.rule_cost [--slos 20] [--minutes 11] [--shapes ...]

The rule sets cover the same SLOs (99.9% over 30d on request counters: 2 instances x
2 status codes per SLO, scraped every 30s) and read the same backfilled raw history: 3d1h,
all that sloguard's and Sloth's rules read, and 30d2h for Pyrra's, whose budget is an
`increase` of the raw counters over the whole window. Each also gets the history of its own
recorded inputs, backfilled at the density its rules would record them: Sloth's 5m error
ratio every 30s for 30 days (its period rule reads 30d of it), sloguard's 5m rates every 30s
for 3 days, their 30m averages every 10m for 30 days and the window's sums every 10m for a
day. Each history ends just before its Prometheus (Debian's 2.42) starts, and the counters go
on growing there, scraped from this process every 30s, while it evaluates its rules for a few
minutes, so every window the rules read stays full. The figures are from
`prometheus_rule_group_last_duration_seconds`:
- the sum over groups of the last evaluation's duration, and
- evaluation seconds per minute: each group's duration times its evaluations per minute,
  which is what a Prometheus actually spends, since the groups run at different intervals
  (sloguard's at 30s, 2m and 10m; Pyrra's increase at 2m30s).
"""

from __future__ import annotations

import argparse
import contextlib
import http.server
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import textwrap
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable, Iterator
from pathlib import Path

from sloguard import yamltext
from sloguard.demo.prometheus import free_port
from sloguard.loading import load
from sloguard.rules.output import RuleFormat, render_rule_files

STEP, COARSE_STEP = 30, 600
DAY = 86400
RAW_HISTORY = 3 * DAY + 3600
WINDOWS = ["5m", "30m", "1h", "2h", "6h", "1d", "3d"]
OK_RATE, ERROR_RATE = 10.0, 0.005  # per instance, requests per second


def definitions(slos: int) -> str:
    body = "".join(
        textwrap.dedent(f"""\
          - name: slo-{i:03d}
            objective: 99.9
            sli:
              events:
                errors: sum(rate(bench_requests_total{{slo="slo-{i:03d}",code="500"}}[{{{{window}}}}]))
                total: sum(rate(bench_requests_total{{slo="slo-{i:03d}"}}[{{{{window}}}}]))
        """)
        for i in range(slos)
    )
    return "service: bench\nlabels: {team: t}\nslos:\n" + textwrap.indent(body, "  ")


def sloth_rules(slos: int) -> str:
    """The rule set Sloth v0.16 generates per SLO (see shared reference anchor-rules)."""
    groups = []
    budget = "0.0009999999999999432"
    for i in range(slos):
        sid = f"bench-slo-{i:03d}"
        ids = {"sloth_id": sid, "sloth_service": "bench", "sloth_slo": f"slo-{i:03d}", "team": "t"}
        sel = ",".join(f'{k}="{v}"' for k, v in ids.items() if k != "team")
        errors = f'sum(rate(bench_requests_total{{slo="slo-{i:03d}",code="500"}}[WINDOW]))'
        total = f'sum(rate(bench_requests_total{{slo="slo-{i:03d}"}}[WINDOW]))'
        sli = [
            {
                "record": f"slo:sli_error:ratio_rate{w}",
                "expr": f"({errors.replace('WINDOW', w)})\n/\n({total.replace('WINDOW', w)})\n",
                "labels": {**ids, "sloth_window": w},
            }
            for w in WINDOWS
        ]
        sli.append(
            {
                "record": "slo:sli_error:ratio_rate30d",
                "expr": f"sum_over_time(slo:sli_error:ratio_rate5m{{{sel}}}[30d])\n/ ignoring "
                f"(sloth_window)\ncount_over_time(slo:sli_error:ratio_rate5m{{{sel}}}[30d])\n",
                "labels": {**ids, "sloth_window": "30d"},
            }
        )
        on = "on(sloth_id, sloth_slo, sloth_service) group_left"
        meta = [
            {"record": "slo:objective:ratio", "expr": "vector(0.9990000000000001)", "labels": ids},
            {
                "record": "slo:error_budget:ratio",
                "expr": "vector(1-0.9990000000000001)",
                "labels": ids,
            },
            {"record": "slo:time_period:days", "expr": "vector(30)", "labels": ids},
            {
                "record": "slo:current_burn_rate:ratio",
                "expr": f"slo:sli_error:ratio_rate5m{{{sel}}}\n/ {on}\nslo:error_budget:ratio{{{sel}}}\n",
                "labels": ids,
            },
            {
                "record": "slo:period_burn_rate:ratio",
                "expr": f"slo:sli_error:ratio_rate30d{{{sel}}}\n/ {on}\nslo:error_budget:ratio{{{sel}}}\n",
                "labels": ids,
            },
            {
                "record": "slo:period_error_budget_remaining:ratio",
                "expr": f"1 - slo:period_burn_rate:ratio{{{sel}}}",
                "labels": ids,
            },
            {
                "record": "sloth_slo_info",
                "expr": "vector(1)",
                "labels": {**ids, "sloth_mode": "cli-gen-prom", "sloth_objective": "99.9"},
            },
        ]

        def over(w: str, f: str, sel: str = sel) -> str:
            return (
                f"max(slo:sli_error:ratio_rate{w}{{{sel}}} > ({f} * {budget})) "
                "without (sloth_window)"
            )

        alerts = [
            {
                "alert": "SlothBench",
                "expr": f"(\n  {over('5m', '14.4')}\n  and\n  {over('1h', '14.4')}\n)\nor\n"
                f"(\n  {over('30m', '6')}\n  and\n  {over('6h', '6')}\n)\n",
                "labels": {"sloth_severity": "page"},
            },
            {
                "alert": "SlothBench",
                "expr": f"(\n  {over('2h', '3')}\n  and\n  {over('1d', '3')}\n)\nor\n"
                f"(\n  {over('6h', '1')}\n  and\n  {over('3d', '1')}\n)\n",
                "labels": {"sloth_severity": "ticket"},
            },
        ]
        groups += [
            {"name": f"sloth-slo-sli-recordings-{sid}", "rules": sli},
            {"name": f"sloth-slo-meta-recordings-{sid}", "rules": meta},
            {"name": f"sloth-slo-alerts-{sid}", "rules": alerts},
        ]
    return yamltext.dump({"groups": groups})


# Pyrra's windows for a 30d objective: its 28-day ones (5m/1h, 30m/6h, 2h/1d, 6h/4d) times
# 30/28, rounded to the minute, with each alert's `for`, as its `Windows()` computes them.
PYRRA_ALERTS = [
    ("critical", 14, "5m", "1h4m", "2m"),
    ("critical", 7, "32m", "6h26m", "16m"),
    ("warning", 2, "2h9m", "1d1h43m", "1h4m"),
    ("warning", 1, "6h26m", "4d6h51m", "3h13m"),
]
PYRRA_INCREASE_INTERVAL = "2m30s"  # Pyrra's for windows of 28 to 35 days


def pyrra_rules(slos: int) -> str:
    """The rule set Pyrra generates per ratio SLO: the budget's `increase` over the whole window
    of the raw counters (its own group, every 2m30s, with the absent alert), and every burn
    rate from the raw counters every 30s, with its four multi-window alerts."""
    groups = []
    for i in range(slos):
        name = f"slo-{i:03d}"
        errors = f'bench_requests_total{{code="500",slo="{name}"}}'
        total = f'bench_requests_total{{slo="{name}"}}'
        labels = {"slo": name}
        increase = [
            {
                "record": "bench_requests:increase30d",
                "expr": f'sum by (code) (increase(bench_requests_total{{slo="{name}"}}[30d]))',
                "labels": labels,
            },
            {
                "alert": "SLOMetricAbsent",
                "expr": f"absent({total}) == 1",
                "for": "2m",
                "labels": {**labels, "severity": "critical"},
            },
        ]
        windows = dict.fromkeys(w for *_, short, long, _ in PYRRA_ALERTS for w in (short, long))
        burnrates: list[dict[str, object]] = [
            {
                "record": f"bench_requests:burnrate{w}",
                "expr": f"sum(rate({errors}[{w}])) / sum(rate({total}[{w}]))",
                "labels": labels,
            }
            for w in windows
        ]
        burnrates += [
            {
                "alert": "ErrorBudgetBurn",
                "expr": f'bench_requests:burnrate{short}{{slo="{name}"}} > ({factor} * (1-0.999))'
                f' and bench_requests:burnrate{long}{{slo="{name}"}} > ({factor} * (1-0.999))',
                "for": wait,
                "labels": {**labels, "severity": severity, "short": short, "long": long},
            }
            for severity, factor, short, long, wait in PYRRA_ALERTS
        ]
        groups += [
            {"name": f"{name}-increase", "interval": PYRRA_INCREASE_INTERVAL, "rules": increase},
            {"name": name, "interval": "30s", "rules": burnrates},
        ]
    return yamltext.dump({"groups": groups})


def series_lines(
    name: str, labels: str, start: int, end: int, step: int, value: Callable[[int], object]
) -> list[str]:
    return [f"{name}{{{labels}}} {value(t)} {t}" for t in range(start, end + 1, step)]


# One series to write: name, labels, first and last time, step, and its value at a time.
Series = tuple[str, str, int, int, int, Callable[[int], object]]


def constant(value: float) -> Callable[[int], object]:
    """A series' value that never changes."""
    return lambda _: value


def counting(start: int, rate: float) -> Callable[[float], object]:
    """A counter growing at `rate` per second from `start`."""
    return lambda t: round((t - start) * rate, 3)


def write_openmetrics(path: Path, families: dict[str, list[Series]]) -> int:
    count = 0
    with path.open("w") as out:
        for family, kind_series in families.items():
            kind = "counter" if family.endswith("_total") else "gauge"
            base = family.removesuffix("_total") if kind == "counter" else family
            out.write(f"# TYPE {base} {kind}\n")
            for name, labels, start, end, step, value in kind_series:
                lines = series_lines(name, labels, start, end, step, value)
                count += len(lines)
                out.write("\n".join(lines) + "\n")
        out.write("# EOF\n")
    return count


def backfill(om: Path, data: Path) -> None:
    subprocess.run(
        [
            "promtool",
            "tsdb",
            "create-blocks-from",
            "openmetrics",
            "--max-block-duration=24h",
            str(om),
            str(data),
        ],
        check=True,
        capture_output=True,
    )


def rule_times(port: int, seen: dict[str, str], times: dict[str, list[float]]) -> None:
    """Add each group's newest evaluation, split by rule: the seconds its rules of one name
    (a recorded series or an alert) took together, keyed `kind/name`."""
    answer = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/rules", timeout=30))
    for group in answer["data"]["groups"]:
        if seen.get(group["name"]) == group["lastEvaluation"]:
            continue
        seen[group["name"]] = group["lastEvaluation"]
        spent: dict[str, float] = defaultdict(float)
        for rule in group["rules"]:
            spent[f"{group_kind(group['name'])}/{rule['name']}"] += rule["evaluationTime"]
        for key, seconds in spent.items():
            times[key].append(seconds)


def measure(
    data: Path, rule_file: Path, minutes: float, exporter: int
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    port = free_port()
    config = data.parent / f"{rule_file.stem}.prometheus.yml"
    config.write_text(
        yamltext.dump(
            {
                "global": {"evaluation_interval": "30s"},
                "rule_files": [str(rule_file)],
                "scrape_configs": [
                    {
                        "job_name": "bench",
                        "scrape_interval": f"{STEP}s",
                        "honor_labels": True,
                        "static_configs": [{"targets": [f"127.0.0.1:{exporter}"]}],
                    }
                ],
            }
        )
    )
    log = (data.parent / f"{rule_file.stem}.log").open("w")
    proc = subprocess.Popen(
        [
            "prometheus",
            f"--config.file={config}",
            f"--storage.tsdb.path={data}",
            "--storage.tsdb.retention.time=90d",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    durations: dict[str, list[float]] = defaultdict(list)
    intervals: dict[str, float] = {}
    failures = 0.0
    seen: dict[str, str] = {}
    per_rule: dict[str, list[float]] = defaultdict(list)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/-/ready", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(f"prometheus did not start; see {log.name}") from None
                time.sleep(0.2)
        end = time.monotonic() + minutes * 60
        while time.monotonic() < end:
            text = (
                urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5)
                .read()
                .decode()
            )
            last: dict[str, float] = {}
            for line in text.splitlines():
                if line.startswith("prometheus_rule_group_last_duration_seconds{"):
                    group = line.split('rule_group="')[1].split('"')[0].split(";")[-1]
                    last[group] = float(line.rsplit(" ", 1)[1])
                elif line.startswith("prometheus_rule_group_interval_seconds{"):
                    group = line.split('rule_group="')[1].split('"')[0].split(";")[-1]
                    intervals[group] = float(line.rsplit(" ", 1)[1])
                elif line.startswith("prometheus_rule_evaluation_failures_total{"):
                    failures = max(failures, float(line.rsplit(" ", 1)[1]))
            for group, seconds in last.items():
                if seconds > 0 and (not durations[group] or durations[group][-1] != seconds):
                    durations[group].append(seconds)
            rule_times(port, seen, per_rule)
            time.sleep(5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    durations["__intervals__"] = [
        intervals.get(g, 30.0) for g in sorted(durations) if g != "__intervals__"
    ]
    durations["__failures__"] = [failures]
    return durations, per_rule


def group_kind(group: str) -> str:
    """What a group does, across SLOs: sloguard's fast/slow/coarse, Sloth's SLI, meta and alert
    groups, Pyrra's increase and burn-rate groups."""
    if group.startswith("sloguard-"):
        return group.rsplit("-", 1)[-1]
    if group.startswith("sloth-"):
        return "-".join(group.split("-")[:3])
    return "pyrra-increase" if group.endswith("-increase") else "pyrra-burnrates"


def summarise(
    name: str,
    measured: tuple[dict[str, list[float]], dict[str, list[float]]],
    slos: int,
    rules: int,
) -> tuple[float, float]:
    result, per_rule = measured
    intervals = result.pop("__intervals__")
    failures = result.pop("__failures__")[0]
    groups = sorted(result)
    medians = {g: statistics.median(result[g]) for g in groups}
    total = sum(medians.values())
    per_minute = sum(medians[g] * 60 / iv for g, iv in zip(groups, intervals, strict=True))
    print(
        f"{name}: {rules} rules in {len(groups)} groups for {slos} SLOs, "
        f"{sum(len(v) for v in result.values())} evaluations observed, failures {failures:.0f}"
    )
    kinds: dict[str, list[float]] = defaultdict(list)
    for group in groups:
        kinds[group_kind(group)].append(medians[group])
    for kind, values in sorted(kinds.items()):
        print(
            f"  {kind:<28} {len(values):>3} group(s), {sum(values) * 1000:8.1f} ms per evaluation"
        )
    print("  by rule (median over evaluations of the group; all SLOs together):")
    for key, values in sorted(per_rule.items(), key=lambda kv: -statistics.median(kv[1])):
        print(
            f"    {key:<48} {statistics.median(values) * 1000:8.1f} ms ({len(values)} evaluations)"
        )
    print(f"  sum of last group durations: {total * 1000:.1f} ms")
    print(f"  evaluation time per minute:  {per_minute * 1000:.1f} ms")
    return total, per_minute


def counter_labels(slos: int) -> list[tuple[str, float]]:
    """Every SLO's request counters, 2 instances x 2 status codes: their labels and rates."""
    return [
        (f'job="bench",slo="slo-{i:03d}",instance="{instance}",code="{code}"', rate)
        for i in range(slos)
        for instance in ("a", "b")
        for code, rate in (("200", OK_RATE), ("500", ERROR_RATE))
    ]


def raw_counters(slos: int, start: int, end: int) -> dict[str, list[Series]]:
    """The counters' history, one sample every 30s from `start` to `end`."""
    return {
        "bench_requests_total": [
            ("bench_requests_total", labels, start, end, STEP, counting(start, rate))
            for labels, rate in counter_labels(slos)
        ]
    }


@contextlib.contextmanager
def live_counters(slos: int, start: int) -> Iterator[int]:
    """Serve the same counters as they grow after the backfilled history, for Prometheus to
    scrape while it evaluates the rules: without them every window over the raw counters
    would empty as the minutes pass, and the rules reading them would cost less and less."""
    series = [(labels, counting(start, rate)) for labels, rate in counter_labels(slos)]

    class Exposition(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            now = time.time()
            body = "".join(
                f"bench_requests_total{{{labels}}} {value(now)}\n" for labels, value in series
            ).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Exposition)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def recorded_inputs(slos: int, now: int, month_start: int) -> dict[str, dict[str, list[Series]]]:
    """Per rule set, the history of the series its rules read back, at the density they
    record them (Pyrra's rules read only raw series)."""
    total_rate, error_rate = 2 * (OK_RATE + ERROR_RATE), 2 * ERROR_RATE
    ours: dict[str, list[Series]] = {
        "slo:sli_errors:rate5m": [],
        "slo:sli_total:rate5m": [],
        "slo:sli_errors:rate30m": [],
        "slo:sli_total:rate30m": [],
        "slo:sli_errors:window_sum": [],
        "slo:sli_total:window_sum": [],
    }
    sloth: dict[str, list[Series]] = {"slo:sli_error:ratio_rate5m": []}
    for i in range(slos):
        ids = f'service="bench",slo="slo-{i:03d}",team="t"'
        for metric, rate in (("errors", error_rate), ("total", total_rate)):
            ours[f"slo:sli_{metric}:rate5m"].append(
                (f"slo:sli_{metric}:rate5m", ids, now - 3 * DAY, now, STEP, constant(rate))
            )
            ours[f"slo:sli_{metric}:rate30m"].append(
                (f"slo:sli_{metric}:rate30m", ids, month_start, now, COARSE_STEP, constant(rate))
            )
            ours[f"slo:sli_{metric}:window_sum"].append(
                (
                    f"slo:sli_{metric}:window_sum",
                    ids,
                    now - DAY,
                    now,
                    COARSE_STEP,
                    constant(rate * 30 * DAY),
                )
            )
        sloth_ids = (
            f'sloth_id="bench-slo-{i:03d}",sloth_service="bench",'
            f'sloth_slo="slo-{i:03d}",sloth_window="5m",team="t"'
        )
        sloth["slo:sli_error:ratio_rate5m"].append(
            (
                "slo:sli_error:ratio_rate5m",
                sloth_ids,
                month_start,
                now,
                STEP,
                constant(error_rate / total_rate),
            )
        )
    return {"sloguard": ours, "Sloth-shaped": sloth, "Pyrra-shaped": {}}


SHAPES = ("sloguard", "Sloth-shaped", "Pyrra-shaped")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slos", type=int, default=20)
    parser.add_argument(
        "--minutes",
        type=float,
        default=11.0,
        help="how long sloguard's rules are evaluated (> 10 to see the 10m group)",
    )
    parser.add_argument(
        "--sloth-minutes",
        type=float,
        default=2.0,
        help="how long the Sloth-shaped rules are evaluated (all groups run at 30s)",
    )
    parser.add_argument(
        "--pyrra-minutes",
        type=float,
        default=4.0,
        help="how long the Pyrra-shaped rules are evaluated (> 2.5 to see its increase group)",
    )
    parser.add_argument(
        "--shapes",
        default=",".join(SHAPES),
        help=f"which rule sets to evaluate, comma-separated (default: {','.join(SHAPES)}); "
        "Pyrra's needs 30 days of raw history, ten times the others'",
    )
    parser.add_argument("--keep", type=Path, help="keep the work directory here")
    args = parser.parse_args()
    shapes = [s.strip() for s in args.shapes.split(",") if s.strip()]
    if not shapes or set(shapes) - set(SHAPES):
        parser.error(f"--shapes: choose among {', '.join(SHAPES)}")
    work = Path(tempfile.mkdtemp(prefix="sloguard-bench-"))
    try:
        (work / "defs").mkdir()
        (work / "defs" / "bench.yaml").write_text(definitions(args.slos))
        loaded = load([work / "defs"])
        [(_, ours_text)] = render_rule_files(
            loaded.services, loaded.sources, RuleFormat.PROMETHEUS
        ).items()
        texts = {
            "sloguard": ours_text,
            "Sloth-shaped": sloth_rules(args.slos),
            "Pyrra-shaped": pyrra_rules(args.slos),
        }
        files = {name: work / f"{name.split('-')[0].lower()}.rules.yml" for name in shapes}
        for name, path in files.items():
            path.write_text(texts[name])
        check = subprocess.run(
            ["promtool", "check", "rules", *map(str, files.values())],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode:
            raise SystemExit(check.stdout + check.stderr)

        minutes = {
            "sloguard": args.minutes,
            "Sloth-shaped": args.sloth_minutes,
            "Pyrra-shaped": args.pyrra_minutes,
        }
        results = {}
        for name in shapes:
            # Each rule set's history ends just before its Prometheus starts, and the counters
            # go on growing from there, scraped: the windows are full while it is measured.
            now = int(time.time()) // STEP * STEP - STEP
            month_start = now - 30 * DAY - 2 * 3600
            # Pyrra's budget reads the raw counters over the whole 30 days.
            first = month_start if name == "Pyrra-shaped" else now - RAW_HISTORY
            print(f"backfilling {name} for {args.slos} SLOs ...", flush=True)
            started = time.monotonic()
            data = work / f"data-{files[name].stem.split('.')[0]}"
            raw = work / f"raw-{name}.om"
            count = write_openmetrics(raw, raw_counters(args.slos, first, now))
            backfill(raw, data)
            raw.unlink()
            figures = [f"{count:,} raw over {(now - first) / DAY:.1f} days"]
            recorded = recorded_inputs(args.slos, now, month_start)[name]
            if recorded:
                om = work / f"{data.name}.om"
                count = write_openmetrics(om, recorded)
                backfill(om, data)
                om.unlink()
                figures.append(f"{count:,} recorded")
            print(f"  {', '.join(figures)} ({time.monotonic() - started:.0f}s)", flush=True)
            print(f"evaluating {name} rules for {minutes[name]:g} min ...", flush=True)
            text = files[name].read_text()
            count = text.count("- record:") + text.count("- alert:")
            with live_counters(args.slos, first) as exporter:
                measured = measure(data, files[name], minutes[name], exporter)
            results[name] = summarise(name, measured, args.slos, count)
        if "sloguard" in results:
            ours_sum, ours_rate = results["sloguard"]
            print(f"sloguard: {ours_rate * 1000 / args.slos:.2f} ms of evaluation per SLO a minute")
            for name, (other_sum, other_rate) in results.items():
                if name != "sloguard":
                    print(
                        f"sloguard / {name}: {ours_sum / other_sum:.2f} of the summed last "
                        f"durations, {ours_rate / other_rate:.2f} of the evaluation time per minute"
                    )
        print(
            "recording rules per SLO: "
            + ", ".join(
                f"{name} {files[name].read_text().count('- record:') / args.slos:g}"
                for name in shapes
            )
        )
    finally:
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("GOGC", "100")
    main()
