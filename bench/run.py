"""Every benchmark, one after the other: `make bench` (or .venv/bin/python bench/run.py).

Pass --quick to shorten the rule-cost run (its 10m group may then go unobserved).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent


def main() -> None:
    quick = "--quick" in sys.argv[1:]
    runs = [
        [str(HERE / "generation.py")],
        [str(HERE / "generation.py"), "--slos", "1", "--repeat", "10"],
        [str(HERE / "evaluation.py")],
        [str(HERE / "gate.py"), *(["--seconds", "5"] if quick else [])],
        [str(HERE / "traces.py"), *(["--seconds", "5"] if quick else [])],
        [
            str(HERE / "rule_cost.py"),
            *(["--minutes", "3", "--sloth-minutes", "1"] if quick else []),
        ],
    ]
    for args in runs:
        print(
            f"$ {Path(sys.executable).name} {' '.join(Path(a).name if a.endswith('.py') else a for a in args)}",
            flush=True,
        )
        subprocess.run([sys.executable, *args], check=True)
        print(flush=True)


if __name__ == "__main__":
    main()
