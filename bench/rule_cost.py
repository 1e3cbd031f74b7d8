"""Rule-evaluation cost of sloguard's rules against Sloth-shaped rules, in a real Prometheus.

Run: .venv/bin/python -m bench.rule_cost [--slos 20] [--minutes 6]

Both rule sets cover the same SLOs (99.9% over 30d on request counters: 2 instances x
2 status codes per SLO, scraped every 30s) and read the same backfilled raw history (3d1h).
Each also gets the history of its own recorded inputs, backfilled at the density its rules
would record them: Sloth's 5m error ratio every 30s for 30 days (its period rule reads 30d of
it), sloguard's 5m rates every 30s for 3 days and their 30m averages every 10m for 30 days.
Each Prometheus (Debian's 2.42) then evaluates its rules for a few minutes; the figures are
from `prometheus_rule_group_last_duration_seconds`:
- the sum over groups of the last evaluation's duration (what the issue names), and
- evaluation seconds per minute: each group's duration times its evaluations per minute,
  which is what a Prometheus actually spends, since sloguard's groups run at 30s, 2m and 5m.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import textwrap
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
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


def series_lines(
    name: str, labels: str, start: int, end: int, step: int, value: Callable[[int], object]
) -> list[str]:
    return [f"{name}{{{labels}}} {value(t)} {t}" for t in range(start, end + 1, step)]


# One series to write: name, labels, first and last time, step, and its value at a time.
Series = tuple[str, str, int, int, int, Callable[[int], object]]


def constant(value: float) -> Callable[[int], object]:
    """A series' value that never changes."""
    return lambda _: value


def counting(start: int, rate: float) -> Callable[[int], object]:
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


def measure(data: Path, rule_file: Path, minutes: float) -> dict[str, list[float]]:
    port = free_port()
    config = data.parent / f"{rule_file.stem}.prometheus.yml"
    config.write_text(
        yamltext.dump(
            {
                "global": {"evaluation_interval": "30s"},
                "rule_files": [str(rule_file)],
                "scrape_configs": [],
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
            time.sleep(5)
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    durations["__intervals__"] = [
        intervals.get(g, 30.0) for g in sorted(durations) if g != "__intervals__"
    ]
    durations["__failures__"] = [failures]
    return durations


def summarise(
    name: str, result: dict[str, list[float]], slos: int, rules: int
) -> tuple[float, float]:
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
        kinds[
            group.rsplit("-", 1)[-1]
            if group.startswith("sloguard-")
            else "-".join(group.split("-")[:3])
        ].append(medians[group])
    for kind, values in sorted(kinds.items()):
        print(
            f"  {kind:<28} {len(values):>3} group(s), {sum(values) * 1000:8.1f} ms per evaluation"
        )
    print(f"  sum of last group durations: {total * 1000:.1f} ms")
    print(f"  evaluation time per minute:  {per_minute * 1000:.1f} ms")
    return total, per_minute


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
    parser.add_argument("--keep", type=Path, help="keep the work directory here")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="sloguard-bench-"))
    try:
        now = int(time.time()) // STEP * STEP - 2 * STEP
        raw_start, month_start = now - RAW_HISTORY, now - 30 * DAY - 2 * 3600
        (work / "defs").mkdir()
        (work / "defs" / "bench.yaml").write_text(definitions(args.slos))
        loaded = load([work / "defs"])
        [(ours_name, ours_text)] = render_rule_files(
            loaded.services, loaded.sources, RuleFormat.PROMETHEUS
        ).items()
        ours_rules, sloth_rules_file = work / ours_name, work / "sloth.rules.yml"
        ours_rules.write_text(ours_text)
        sloth_rules_file.write_text(sloth_rules(args.slos))
        check = subprocess.run(
            ["promtool", "check", "rules", str(ours_rules), str(sloth_rules_file)],
            capture_output=True,
            text=True,
            check=False,
        )
        if check.returncode:
            raise SystemExit(check.stdout + check.stderr)

        print(f"backfilling {args.slos} SLOs ...", flush=True)
        started = time.monotonic()
        total_rate, error_rate = 2 * (OK_RATE + ERROR_RATE), 2 * ERROR_RATE
        raw: list[Series] = []
        for i in range(args.slos):
            for instance in ("a", "b"):
                for code, rate in (("200", OK_RATE), ("500", ERROR_RATE)):
                    labels = f'slo="slo-{i:03d}",instance="{instance}",code="{code}"'
                    raw.append(
                        (
                            "bench_requests_total",
                            labels,
                            raw_start,
                            now,
                            STEP,
                            counting(raw_start, rate),
                        )
                    )
        ours: dict[str, list[Series]] = {
            "slo:sli_errors:rate5m": [],
            "slo:sli_total:rate5m": [],
            "slo:sli_errors:rate30m": [],
            "slo:sli_total:rate30m": [],
        }
        sloth: dict[str, list[Series]] = {"slo:sli_error:ratio_rate5m": []}
        for i in range(args.slos):
            ids = f'service="bench",slo="slo-{i:03d}",team="t"'
            for metric, rate in (("errors", error_rate), ("total", total_rate)):
                ours[f"slo:sli_{metric}:rate5m"].append(
                    (f"slo:sli_{metric}:rate5m", ids, now - 3 * DAY, now, STEP, constant(rate))
                )
                ours[f"slo:sli_{metric}:rate30m"].append(
                    (
                        f"slo:sli_{metric}:rate30m",
                        ids,
                        month_start,
                        now,
                        COARSE_STEP,
                        constant(rate),
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
                    lambda t: error_rate / total_rate,
                )
            )
        samples = write_openmetrics(work / "raw.om", {"bench_requests_total": raw})
        samples_ours = write_openmetrics(work / "ours.om", ours)
        samples_sloth = write_openmetrics(work / "sloth.om", sloth)
        for name in ("ours", "sloth"):
            backfill(work / "raw.om", work / f"data-{name}")
            backfill(work / f"{name}.om", work / f"data-{name}")
        print(
            f"  {samples:,} raw samples; recorded history: sloguard {samples_ours:,}, "
            f"Sloth {samples_sloth:,} ({time.monotonic() - started:.0f}s)",
            flush=True,
        )

        results = {}
        for name, rules, minutes in (
            ("sloguard", ours_rules, args.minutes),
            ("Sloth-shaped", sloth_rules_file, args.sloth_minutes),
        ):
            print(f"evaluating {name} rules for {minutes:g} min ...", flush=True)
            data = work / ("data-ours" if name == "sloguard" else "data-sloth")
            count = rules.read_text().count("- record:") + rules.read_text().count("- alert:")
            results[name] = summarise(name, measure(data, rules, minutes), args.slos, count)
        (ours_sum, ours_rate), (sloth_sum, sloth_rate) = (
            results["sloguard"],
            results["Sloth-shaped"],
        )
        print(
            f"sloguard / Sloth: {ours_sum / sloth_sum:.2f} of the summed last durations, "
            f"{ours_rate / sloth_rate:.2f} of the evaluation time per minute"
        )
        per_slo = {
            name: rules.read_text().count("- record:") / args.slos
            for name, rules in (("sloguard", ours_rules), ("Sloth", sloth_rules_file))
        }
        print(
            "recorded series per SLO: "
            + ", ".join(f"{k} {v:g}" for k, v in per_slo.items())
            + " (plus 2 alerts each)"
        )
    finally:
        if args.keep:
            shutil.copytree(work, args.keep, dirs_exist_ok=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("GOGC", "100")
    main()
