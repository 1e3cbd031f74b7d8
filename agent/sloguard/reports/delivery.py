"""Delivery figures, DORA-style: the rollouts the gate judged, what became of them, the actions
taken, and how long a rollback took to bring the burn down."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sloguard.playbook.model import ROLLBACKS
from sloguard.reports.figures import burn
from sloguard.reports.model import (
    Acted,
    Action,
    Counted,
    Decided,
    Delivery,
    Key,
    Objective,
    Rollout,
    Traffic,
)
from sloguard.reports.period import SLOT, slot_of, utc


def rollouts(decisions: Sequence[Decided], actions: Sequence[Acted] | None) -> list[Rollout]:
    """Decisions grouped by canary and baseline (an analysis asks many times per rollout),
    oldest first; a rollout is rolled back when a rollback (abort, undo or switch) of its
    service was enforced after it began and before the service's next rollout began."""
    grouped: dict[tuple[str, str, str | None], list[Decided]] = {}
    for decided in sorted(decisions, key=lambda d: d.at):
        grouped.setdefault((decided.service, decided.canary, decided.baseline), []).append(decided)
    began = sorted((runs[0].at, key) for key, runs in grouped.items())
    undone = [a for a in actions or () if _rollback(a) and _enforced(a)]
    found = []
    for index, (first, key) in enumerate(began):
        runs = grouped[key]
        following = [at for at, other in began[index + 1 :] if other[0] == key[0]]
        until = following[0] if following else float("inf")
        found.append(
            Rollout(
                service=key[0],
                canary=key[1],
                baseline=key[2],
                first=utc(first),
                last=utc(runs[-1].at),
                decisions=len(runs),
                verdict=runs[-1].verdict,
                rolled_back=any(a.service == key[0] and first <= a.at < until for a in undone),
            )
        )
    return found


def change_failure_rate(found: Sequence[Rollout]) -> float | None:
    """Rollouts the gate failed or that were rolled back, over all rollouts."""
    if not found:
        return None
    return sum(1 for r in found if r.verdict == "fail" or r.rolled_back) / len(found)


def restored(
    action: Acted,
    objectives: Sequence[Objective],
    traffic: Mapping[Key, Traffic],
    until: float,
) -> float | None:
    """Seconds from a rollback to the end of the first slot wholly after it in which every SLO
    of its service burns no faster than its ticket tier; None when that has not happened."""
    if not _rollback(action) or not _enforced(action):
        return None
    own = [o for o in objectives if o.service == action.service and o.key in traffic]
    slot = slot_of(action.at) + SLOT
    while slot <= until:
        rates = [(o, burn(o, traffic[o.key], slot)) for o in own]
        if all(rate is not None and rate <= o.ticket_factor for o, rate in rates):
            return slot - action.at
        slot += SLOT
    return None


def delivery(
    service: str,
    objectives: Sequence[Objective],
    traffic: Mapping[Key, Traffic],
    until: float,
    judged: Mapping[tuple[str, str], float],
    acted: Mapping[tuple[str, str, str, str], float],
    decisions: Sequence[Decided] | None,
    actions: Sequence[Acted] | None,
) -> Delivery:
    """One service's delivery figures (`decisions` and `actions` are the service's own)."""
    found = None if decisions is None else rollouts(decisions, actions)
    taken = None
    if actions is not None:
        taken = [
            Action(
                at=utc(a.at),
                id=a.id,
                service=a.service,
                action=a.action,
                mode=a.mode,
                result=a.result,
                summary=a.summary,
                trigger=a.trigger,
                restored_seconds=restored(a, objectives, traffic, until),
            )
            for a in sorted(actions, key=lambda a: a.at)
        ]
    return Delivery(
        judged=[
            Counted(labels={"verdict": verdict}, count=count)
            for (owner, verdict), count in sorted(judged.items())
            if owner == service
        ],
        acted=[
            Counted(labels={"action": action, "mode": mode, "result": result}, count=count)
            for (owner, action, mode, result), count in sorted(acted.items())
            if owner == service
        ],
        rollouts=found,
        actions=taken,
        change_failure_rate=None if found is None else change_failure_rate(found),
        restore_seconds=[a.restored_seconds for a in taken or () if a.restored_seconds is not None],
    )


def _rollback(action: Acted) -> bool:
    """An Argo Rollout aborted, a Deployment undone or a blue-green Service switched back."""
    return action.action in ROLLBACKS


def _enforced(action: Acted) -> bool:
    return action.mode == "enforce" and action.result == "done"
