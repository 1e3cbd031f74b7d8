"""What the evaluation says about a service, for its actions: which SLOs page, which burn, which
could not be read. Missing data is its own signal: it never rolls back and never scales in."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sloguard.evaluation.model import Evaluation, Status
from sloguard.spec.actions import Actions


@dataclass(frozen=True)
class Signals:
    paging: tuple[str, ...]  # SLOs whose page condition holds, on data
    burning: tuple[str, ...]  # SLOs whose page or ticket condition holds, on data
    missing: tuple[str, ...]  # SLOs that could not be judged

    @property
    def calm(self) -> bool:
        """Every SLO read, none burning: the only state in which capacity is given back."""
        return not self.burning and not self.missing

    def why(self) -> str:
        if self.paging:
            return f"page condition holds for {', '.join(self.paging)}"
        if self.burning:
            return f"error budget burning for {', '.join(self.burning)}"
        if self.missing:
            return f"no data for {', '.join(self.missing)}"
        return "every SLO within budget"


def signals(evaluations: Sequence[Evaluation], service: str, actions: Actions) -> Signals:
    """The signals of `service`'s SLOs (those `actions.slos` names, or all)."""
    wanted = set(actions.slos)
    relevant = [e for e in evaluations if e.service == service and (not wanted or e.slo in wanted)]
    missing = [e for e in relevant if e.status is Status.NO_DATA or e.page is None]
    read = [e for e in relevant if e not in missing]
    return Signals(
        paging=_names(e for e in read if e.page),
        burning=_names(e for e in read if e.page or e.ticket),
        missing=_names(missing),
    )


def _names(evaluations: Iterable[Evaluation]) -> tuple[str, ...]:
    return tuple(sorted({e.slo for e in evaluations}))
