"""A month in the life of two services, minute by minute, with known incidents, rollouts and
actions: the history a report is proven on, and the truth every figure is computed from.

Counters are written every minute, and the rules evaluated on the minute, so every window's
rate covers exactly the minutes it names and the truth needs no model of extrapolation.

- shop (99.9% over 7d, 10 requests/s, 0.02% failing): three incidents in the period: 10%
  failing for 20 minutes on day 5 (a page), 0.9% for 5 hours on day 12 (a slow burn that
  pages), and 3% for 20 minutes on day 20 right after a rollout the gate failed and sloguard
  rolled back at 14:25 (a ticket only). Rollouts on days 3, 20 and 25.
- search (99.9% over 7d, 5 requests/s, 0.12% failing all along): misses its objective; its
  ticket fires the whole month. One rollout on day 8.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sloguard.gate.model import Verdict
from sloguard.gate.report import DecisionReport, GateRecord, Window
from sloguard.playbook.model import rfc3339
from tests.support.realprom import Series

DAY, HOUR, MINUTE, SLOT = 86400, 3600, 60, 300
WINDOW = 7 * DAY
BUDGET = 0.001

# Tiers of four windows (5m, 30m, 1h, 6h), so promtool has few rules to evaluate.
DEFINITION = """
service: {service}
labels: {{team: {team}}}
slos:
  - name: availability
    objective: 99.9
    window: 7d
    sli:
      events:
        errors: sum(rate(http_requests_total{{job="{service}",code="500"}}[{{{{window}}}}]))
        total: sum(rate(http_requests_total{{job="{service}"}}[{{{{window}}}}]))
    alerting:
      windows:
        - {{severity: page, long: 1h, short: 5m, factor: 14.4}}
        - {{severity: page, long: 6h, short: 30m, factor: 6}}
        - {{severity: ticket, long: 6h, short: 1h, factor: 1}}
"""
DEFINITIONS = {
    f"{service}.yaml": DEFINITION.format(service=service, team=team)
    for service, team in (("shop", "web"), ("search", "find"))
}
RATES = {"shop": 10.0, "search": 5.0}
# (day of the period, start and end as minutes of the day, share failing)
INCIDENTS = [(5, 600, 620, 0.10), (12, 120, 420, 0.009), (20, 850, 870, 0.03)]
# (service, day, minute of the day, canary, verdict)
DECISIONS = [
    ("shop", 3, 600, 'version="v2"', Verdict.PASS),
    ("shop", 3, 605, 'version="v2"', Verdict.PASS),
    ("shop", 3, 610, 'version="v2"', Verdict.PASS),
    ("search", 8, 660, 'version="s2"', Verdict.INCONCLUSIVE),
    ("search", 8, 665, 'version="s2"', Verdict.PASS),
    ("shop", 20, 840, 'version="v3"', Verdict.INCONCLUSIVE),
    ("shop", 20, 860, 'version="v3"', Verdict.FAIL),
    ("shop", 25, 540, 'version="v4"', Verdict.PASS),
    ("shop", -2, 600, 'version="v1"', Verdict.PASS),  # before the period
]
# (service, day, minute, action, mode, result)
ACTIONS = [
    ("shop", 12, 180, "scale_up", "dry-run", "done"),
    ("shop", 20, 865, "undo", "enforce", "done"),
    ("shop", 31, 60, "undo", "enforce", "done"),  # after the period
]


@dataclass(frozen=True)
class Month:
    """The period [start, end) and the history around it (Unix seconds, on minutes)."""

    start: int
    end: int

    @property
    def first(self) -> int:  # the history begins a window and some hours before the period
        return self.start - WINDOW - 3 * HOUR

    @property
    def last(self) -> int:
        return self.end + 3 * HOUR

    def at(self, day: int, minute: int) -> int:
        return self.start + day * DAY + minute * MINUTE

    def share(self, service: str, minute_start: int) -> float:
        """Share of requests failing in the minute starting at `minute_start`."""
        if service == "search":
            return 0.0012
        for day, first, last, share in INCIDENTS:
            if self.at(day, first) <= minute_start < self.at(day, last):
                return share
        return 0.0002

    def counts(self, service: str) -> tuple[Callable[[int], float], Callable[[int], float]]:
        """Bad and all requests before each minute mark (the counters' values)."""
        rate = RATES[service]
        bad: dict[int, float] = {}
        running = 0.0
        for t in range(self.first, self.last + 1, MINUTE):
            bad[t] = running
            running += rate * MINUTE * self.share(service, t)
        return (lambda t: bad[t]), (lambda t: rate * (t - self.first))

    def families(self) -> dict[str, list[Series]]:
        """The request counters, and the agent's own counters of decisions and actions."""
        requests: list[Series] = []
        for service in RATES:
            bad, total = self.counts(service)
            minutes = range(self.first, self.last + 1, MINUTE)
            requests.append(
                (
                    "http_requests_total",
                    {"job": service, "code": "500"},
                    [(t, round(bad(t), 6)) for t in minutes],
                )
            )
            requests.append(
                (
                    "http_requests_total",
                    {"job": service, "code": "200"},
                    [(t, round(total(t) - bad(t), 6)) for t in minutes],
                )
            )
        return {
            "http_requests_total": requests,
            "sloguard_gate_decisions_total": self._counter(
                "sloguard_gate_decisions_total",
                [((s, v.value), self.at(d, m)) for s, d, m, _, v in DECISIONS],
                ("service", "verdict"),
            ),
            "sloguard_actions_total": self._counter(
                "sloguard_actions_total",
                [((s, a, mode, r), self.at(d, m)) for s, d, m, a, mode, r in ACTIONS],
                ("service", "action", "mode", "result"),
            ),
        }

    def _counter(
        self, name: str, events: list[tuple[tuple[str, ...], int]], labels: tuple[str, ...]
    ) -> list[Series]:
        series = []
        for key in sorted({k for k, _ in events}):
            times = [t for k, t in events if k == key]
            points = [  # scraped every 5 minutes (the agent's counters change seldom)
                (t, float(sum(1 for e in times if e < t)))
                for t in range(self.first, self.last + 1, SLOT)
            ]
            series.append((name, dict(zip(labels, key, strict=True)), points))
        return series

    def gate_log(self, path: Path) -> Path:
        lines = []
        for service, day, minute, canary, verdict in DECISIONS:
            at = self.at(day, minute)
            decision = DecisionReport(
                verdict=verdict,
                reason=f"{verdict.value} on the SLOs",
                service=service,
                window=Window(start=_dt(at - 600), end=_dt(at)),
                evaluatedAt=_dt(at),
                slos=[],
            )
            record = GateRecord(canary=canary, baseline=None, decision=decision, samples={})
            lines.append(record.model_dump_json(exclude={"repeated"}))
        lines.append("not json")
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        return path

    def audit_log(self, path: Path) -> Path:
        lines = [
            {
                "id": f"a{index}",
                "time": rfc3339(self.at(day, minute)),
                "service": service,
                "action": action,
                "target": {"kind": "Deployment", "namespace": "shop", "name": service},
                "mode": mode,
                "result": result,
                "summary": f"{action} of {service}",
                "trigger": "burn",
                "details": {},
                "by": "sloguard",
            }
            for index, (service, day, minute, action, mode, result) in enumerate(ACTIONS)
        ]
        lines.append(
            {"id": "l", "time": rfc3339(self.at(1, 0)), "service": "", "action": "leadership"}
        )
        path.write_text("\n".join(json.dumps(line) for line in lines) + "\n", encoding="utf-8")
        return path


def _dt(at: int):  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.fromtimestamp(at, UTC)
