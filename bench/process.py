"""What the benchmarks read of a running process (and of the machine) from /proc."""

from __future__ import annotations

import os
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int, field: str = "VmRSS") -> float:
    """The process's resident memory in MB (`VmHWM`: its peak, as /proc/PID/clear_refs left it)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_rss_mb(pid: int) -> float:
    """The resident memory of the process and every process below it, added up, in MB (pages
    they share are counted in each: an upper bound). 0 once the process is gone."""
    try:
        children = [
            int(child)
            for task in Path(f"/proc/{pid}/task").iterdir()
            for child in (task / "children").read_text().split()
        ]
        return rss_mb(pid) + sum(tree_rss_mb(child) for child in children)
    except (FileNotFoundError, ProcessLookupError):
        return 0.0


def cpu_seconds(pid: int) -> float:
    """CPU the process has used so far (user and system), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def busy_seconds() -> float:
    """CPU the whole machine has spent not idle so far, all cores together, in seconds."""
    cpu = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(cpu[:8]) - cpu[3] - cpu[4]) / TICKS  # less idle and iowait
