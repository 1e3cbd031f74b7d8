"""What an SLO alert tells the person it reaches: annotations that Prometheus fills in at every
evaluation (Go templates running PromQL), so a notification carries the numbers to act on and
Alertmanager's templates (alertmanager/sloguard.tmpl) only lay them out.

Each query selects the alerting SLO by `service`, `slo` and the labels its definition gives
it now (a relabelled SLO's old series are recorded on for a while), and, for a per-label SLO,
by the alert's own values of its labels (`$labels.path`), so every group reads its own series.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sloguard import promql
from sloguard.spec.counters import quoted
from sloguard.spec.model import SLO, Severity, Tier
from sloguard.spec.promtext import number

# Shown where a query finds nothing (e.g. the first evaluation after a restart).
UNKNOWN = "unknown"
# A value the template fills in: (printf verb, template expression), e.g. ("%q", "$labels.path").
Value = tuple[str, str]
Part = str | Value


def notification_annotations(
    labels: Mapping[str, str], slo: SLO, severity: Severity, tiers: list[Tier], alertname: str
) -> dict[str, str]:
    """The figures of one alert of the SLO whose series carry `labels` (`service`, `slo` and
    the definition's), each an annotation of its own: objective and window, burn rate, the
    windows that fired, budget left, when it runs out at this rate, and what the burn has
    cost since the alert began (what the resolved notification reports)."""
    sel = _selector(labels, slo)
    budget_left = [promql.BUDGET_REMAINING, *sel]
    return {
        "objective": f"{number(slo.objective)}%",
        "window": slo.window,
        "burn_rate": '{{ $value | printf "%.1f" }}',
        "burn_windows": _first_firing(sel, tiers),
        "budget_left": _query(budget_left, "{{ . | first | value | humanizePercentage }}"),
        # At the alert's burn rate (its value), what is left lasts left * window / burn.
        "budget_exhausted_in": _query(
            [
                "clamp_min(",
                *budget_left,
                f", 0) * {number(slo.window_seconds)} / ",
                ("%f", "$value"),
            ],
            "{{ $left := . | first | value }}{{ if gt $left 0.0 }}"
            "in {{ humanizeDuration $left }} at this rate{{ else }}already spent{{ end }}",
        ),
        "burn_cost": _burn_cost(
            sel, _selector(promql.slo_ids(labels), slo), slo, severity, alertname
        ),
    }


def _selector(labels: Mapping[str, str], slo: SLO) -> list[Part]:
    parts: list[Part] = [f'{{service="{labels["service"]}",slo="{slo.name}"']
    for label, value in sorted(labels.items()):
        if label not in ("service", "slo"):  # any text: a Go string literal, quoted by printf
            parts += [f",{label}=", ("%q", quoted(value))]
    for label in promql.slo_grouping(slo):
        parts += [f",{label}=", ("%q", f"$labels.{label}")]
    return [*parts, "}"]


def _first_firing(sel: list[Part], tiers: Sequence[Tier]) -> str:
    """The first of the severity's tiers whose two windows both burn past its factor, as
    `1h and 5m (over 14.4x)`."""
    text = UNKNOWN
    for tier in reversed(tiers):
        long = [promql.burn_rate_metric(tier.long), *sel, f" > {number(tier.factor)}"]
        short = [promql.burn_rate_metric(tier.short), *sel, f" > {number(tier.factor)}"]
        text = _query(
            [*long, " and ", *short],
            f"{tier.long} and {tier.short} (over {number(tier.factor)}x)",
            missing=text,
        )
    return text


def _burn_cost(
    sel: list[Part], alert_sel: list[Part], slo: SLO, severity: Severity, alertname: str
) -> str:
    """Budget spent since the alert became active (`ALERTS_FOR_STATE` holds that moment,
    found by `alert_sel`: the alert's own labels may override the definition's): the span's
    burn rate times its share of the SLO window, as the tiers count what they spend."""
    alert = [f'alertname="{alertname}"', f'{promql.ALERT_SEVERITY_LABEL}="{severity.value}"']
    since = ["time() - ALERTS_FOR_STATE", *_with(alert_sel, alert)]
    span: Value = ("%.0f", "$since")
    spent = [
        "sum_over_time(",
        promql.ERRORS,
        *sel,
        "[",
        span,
        "s]) / (sum_over_time(",
        promql.TOTAL,
        *sel,
        "[",
        span,
        f"s]) > 0) / {number(slo.error_budget)} * ",
        span,
        f" / {number(slo.window_seconds)}",
    ]
    cost = _query(
        spent,
        "{{ . | first | value | humanizePercentage }} of the error budget in "
        "{{ humanizeDuration $since }}",
    )
    # Nothing recorded yet: the alert became active at this very evaluation.
    just_begun = "none yet: it has just begun"
    return _query(
        since,
        "{{ $since := . | first | value }}{{ if ge $since 60.0 }}"
        + cost
        + "{{ else }}"
        + just_begun
        + "{{ end }}",
        missing=just_begun,
    )


def _with(sel: list[Part], matchers: list[str]) -> list[Part]:
    """`sel` with more matchers after its own."""
    return [*sel[:-1], *(f",{m}" for m in matchers), "}"]


def _query(parts: list[Part], found: str, missing: str = UNKNOWN) -> str:
    """Template text running the query `parts` spell (values filled in by printf) and showing
    `found` on its answer (`.`), else `missing`."""
    text = "".join(p if isinstance(p, str) else p[0] for p in parts)
    values = [p[1] for p in parts if not isinstance(p, str)]
    call = " ".join(["printf", f"`{text}`", *values]) if values else f"`{text}`"
    return f"{{{{ with {call} | query }}}}{found}{{{{ else }}}}{missing}{{{{ end }}}}"
