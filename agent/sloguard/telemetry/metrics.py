"""The agent's own Prometheus metrics, on a registry the composition root injects.

Per-SLO gauges come from a collector that reads the latest evaluation at scrape time (never
gauges set from many places), so an SLO removed by a reload disappears at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sloguard.evaluation.model import Evaluation, Status
from sloguard.gate.model import Verdict
from sloguard.promql import TRACE_EVENTS
from sloguard.spec.model import ServiceSLOs

IDS = ["service", "slo"]


class SLOCollector(Collector):
    """`sloguard_slo_*` gauges of the latest evaluation."""

    def __init__(self, latest: Callable[[], Sequence[Evaluation]]) -> None:
        self._latest = latest

    def collect(self) -> Iterator[Metric]:
        sli = GaugeMetricFamily(
            "sloguard_slo_sli", "SLI over the SLO window (good share).", labels=IDS
        )
        budget = GaugeMetricFamily(
            "sloguard_slo_error_budget_remaining",
            "Share of the window's error budget left; negative when overspent.",
            labels=IDS,
        )
        burn = GaugeMetricFamily(
            "sloguard_slo_burn_rate",
            "Error ratio over the window divided by the error budget.",
            labels=[*IDS, "window"],
        )
        status = GaugeMetricFamily(
            "sloguard_slo_status",
            "1 for the SLO's current status, 0 for the others.",
            labels=[*IDS, "status"],
        )
        objective = GaugeMetricFamily("sloguard_slo_objective", "Objective as a ratio.", labels=IDS)
        for e in self._latest():
            ids = [e.service, e.slo]
            objective.add_metric(ids, e.objective)
            if e.sli is not None:
                sli.add_metric(ids, e.sli)
            if e.error_budget_remaining is not None:
                budget.add_metric(ids, e.error_budget_remaining)
            for window, value in e.burn_rates.items():
                if value is not None:
                    burn.add_metric([*ids, window], value)
            for candidate in Status:
                status.add_metric([*ids, candidate.value], 1.0 if candidate is e.status else 0.0)
        yield from (sli, budget, burn, status, objective)


class AgentMetrics:
    """Everything the agent counts about itself."""

    def __init__(
        self, registry: CollectorRegistry, latest: Callable[[], Sequence[Evaluation]]
    ) -> None:
        registry.register(SLOCollector(latest))
        self.evaluation_seconds = Histogram(
            "sloguard_evaluation_duration_seconds",
            "Time to evaluate every SLO once.",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=registry,
        )
        self.query_errors = Counter(
            "sloguard_query_errors",
            "Prometheus queries that failed, by reason.",
            ["reason"],
            registry=registry,
        )
        self.last_success = Gauge(
            "sloguard_last_successful_evaluation_timestamp_seconds",
            "When an evaluation last completed with Prometheus answering (Unix time).",
            registry=registry,
        )
        self.reload_errors = Counter(
            "sloguard_definition_reload_errors",
            "Reloads of the definitions that failed (the last good set stays in use).",
            registry=registry,
        )
        self.slos = Gauge("sloguard_slos", "SLOs being evaluated.", registry=registry)
        self.prometheus_active = Gauge(
            "sloguard_prometheus_active",
            "Which of the Prometheus URLs (--prometheus, in order) the agent reads from: 1 for "
            "the one answering, 0 for the others.",
            ["url"],
            registry=registry,
        )

    def reading_from(self, active: str, urls: Sequence[str]) -> None:
        """Mark `active` as the URL in use among `urls`."""
        for url in urls:
            self.prometheus_active.labels(url=url).set(1 if url == active else 0)


class GateMetrics:
    """What the promotion gate counts: every decision, how long it took, what was shared."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.decisions = Counter(
            "sloguard_gate_decisions",
            "Gate decisions by service and verdict.",
            ["service", "verdict"],
            registry=registry,
        )
        self.slo_verdicts = Counter(
            "sloguard_gate_slo_verdicts",
            "Each SLO's verdict within gate decisions, by service, SLO and verdict.",
            ["service", "slo", "verdict"],
            registry=registry,
        )
        self.decision_seconds = Histogram(
            "sloguard_gate_decision_duration_seconds",
            "Time to read Prometheus and decide (decisions served from cache excluded).",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.shared = Counter(
            "sloguard_gate_shared_answers",
            "Requests answered by another identical request's decision, by how.",
            ["how"],
            registry=registry,
        )

    def known(self, services: Sequence[ServiceSLOs]) -> None:
        """Every service's and SLO's count of each verdict exported from 0 (once loaded), so
        `increase()` over a period counts a first decision too: a series that appears at 1
        has no earlier sample to grow from."""
        for spec in services:
            for verdict in Verdict:
                self.decisions.labels(spec.service, verdict.value)
                for slo in spec.slos:
                    self.slo_verdicts.labels(spec.service, slo.name, verdict.value)


class MarkerMetrics:
    """Deploy markers (Grafana annotations) by what became of them."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.annotations = Counter(
            "sloguard_grafana_annotations",
            "Deploy markers for Grafana by result: posted, failed (Grafana refused or did not "
            "answer) or dropped (too many waiting).",
            ["result"],
            registry=registry,
        )


class ActionMetrics:
    """What the actions count: every action by mode and result, leadership, audit failures."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.actions = Counter(
            "sloguard_actions",
            "Actions on workloads by service, action, mode (dry-run, enforce) and result "
            "(done, held, conflict, failed).",
            ["service", "action", "mode", "result"],
            registry=registry,
        )
        self.leader = Gauge(
            "sloguard_leader", "1 while this replica holds the actions Lease.", registry=registry
        )
        self.audit_errors = Counter(
            "sloguard_audit_errors",
            "Audit records a sink failed to take (event, log, alert).",
            ["sink"],
            registry=registry,
        )


class ReportMetrics:
    """Reports the agent writes on its schedule, by what became of each try."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.written = Counter(
            "sloguard_reports_written",
            "Tries to write a finished period's report by result: written, incomplete (part "
            "could not be read; tried again) or failed.",
            ["result"],
            registry=registry,
        )


class TraceMetrics:
    """What the OTLP receiver counts: events per trace SLI, spans received and dropped."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            TRACE_EVENTS.removesuffix("_total"),  # the counter's name without the suffix
            "Spans counted for trace SLIs, by the SLI's key and outcome (good, bad).",
            ["service", "span", "sli", "version", "outcome"],
            registry=registry,
        )
        self.received = Counter(
            "sloguard_trace_spans_received", "Spans received over OTLP.", registry=registry
        )
        self.dropped = Counter(
            "sloguard_trace_spans_dropped",
            "Spans not counted: `cardinality` (the trace SLI's series are all in use).",
            ["reason"],
            registry=registry,
        )
        self.truncated = Counter(
            "sloguard_trace_label_values_truncated",
            "Version label values cut to 256 bytes (and a digest of the rest).",
            registry=registry,
        )
        self.forgotten = Counter(
            "sloguard_trace_series_forgotten",
            "Trace SLI series dropped from /metrics: unseen for an hour, or their room taken.",
            registry=registry,
        )
        self.requests = Counter(
            "sloguard_otlp_requests",
            "OTLP export requests by HTTP status code.",
            ["code"],
            registry=registry,
        )
