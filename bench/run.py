"""Every benchmark, one after the other: `make bench` (or .venv/bin/python -m bench.run).

Pass --quick to shorten the rule-cost run (its 10m group may then go unobserved).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    runs = [
        ["bench.generation"],
        ["bench.generation", "--slos", "1", "--repeat", "10"],
        ["bench.evaluation"],
        ["bench.console", *(["--repeat", "10", "--requests", "200"] if quick else [])],
        ["bench.gate", *(["--seconds", "5"] if quick else [])],
        ["bench.traces", *(["--seconds", "5"] if quick else [])],
        [
            "bench.rule_cost",
            *(["--minutes", "3", "--sloth-minutes", "1", "--pyrra-minutes", "3"] if quick else []),
        ],
        ["bench.report", *(["--runs", "1"] if quick else [])],
        ["bench.gate_quality", *(["--quick"] if quick else [])],
        ["bench.gate_served", *(["--seeds", "3"] if quick else [])],
    ]
    for args in runs:
        print(f"$ python -m {' '.join(args)}", flush=True)
        subprocess.run([sys.executable, "-m", *args], check=True, cwd=REPO)
        print(flush=True)


if __name__ == "__main__":
    main()
