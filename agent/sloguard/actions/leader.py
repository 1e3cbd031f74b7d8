"""Leader election on a `coordination.k8s.io/v1` Lease, as client-go does it (15 s lease, 10 s
renew deadline, 2 s retry: the kube-controller-manager and Argo Rollouts defaults). Every replica
serves the gate; only the leader acts.

Expiry is judged on this replica's own clock, never from the holder's timestamps, so clock skew
cannot hand out the lease twice. Where client-go dates a renewal from the read that first showed
it, this dates it from the read before, which the renewal followed, when the two reads are less
than lease - renew deadline apart; and it wakes when the lease runs out rather than at the next
retry. A dead leader is so replaced within the lease duration of its last renewal instead of up
to two retry periods later, and as safely: the dating is early by less than lease - renew
deadline, and a leader that cannot renew stops acting at its renew deadline. Leadership alone is
no fence: every write also carries a `resourceVersion`.

The Lease is also the agent-wide kill switch: `kubectl annotate lease sloguard
sloguard.io/paused=true` stops every replica's actions at its next cycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sloguard.errors import ClusterError, Conflict, NotFound
from sloguard.kube import Cluster
from sloguard.playbook.model import ObjectRef, paused
from sloguard.telemetry.metrics import ActionMetrics

log = logging.getLogger("sloguard.leader")


@dataclass(frozen=True)
class Timing:
    lease_seconds: float = 15.0
    renew_deadline_seconds: float = 10.0
    retry_seconds: float = 2.0

    def __post_init__(self) -> None:
        # client-go's rule (lease > renew deadline > 1.2 x retry), and room for reads a retry
        # apart within the margin by which a leader that cannot renew has stopped acting
        if not self.lease_seconds > self.renew_deadline_seconds > 1.2 * self.retry_seconds > 0:
            raise ValueError("leader election needs lease > renew deadline > 1.2 x retry > 0")
        if self.lease_seconds - self.renew_deadline_seconds < self.retry_seconds:
            raise ValueError("leader election needs lease - renew deadline >= retry")


class LeaderElector:
    """Holds (or waits for) the Lease until `stop`; `is_leader` says whether to act now."""

    def __init__(
        self,
        cluster: Cluster,
        namespace: str,
        name: str,
        identity: str,
        metrics: ActionMetrics,
        timing: Timing | None = None,
        clock: Callable[[], float] = time.monotonic,
        changed: Callable[[str], None] | None = None,
    ) -> None:
        self._cluster = cluster
        self._changed = changed  # told "acquired", "lost" or "released" as leadership changes
        self._ref = ObjectRef("Lease", namespace, name)
        self.identity = identity
        self._metrics = metrics
        self._timing = timing or Timing()
        self._clock = clock
        self._leader = False
        self._renewed_at = 0.0  # our clock, last successful acquire or renew
        self._seen: tuple[Any, ...] | None = None  # the record as last read
        self._seen_at = 0.0  # our clock: the record changed after this
        self._read_sent: float | None = None  # our clock: when the last good read was sent
        self._expires_at: float | None = None  # our clock: another holder's lease runs out
        self.paused = False  # the Lease carries sloguard.io/paused: "true": nobody acts

    @property
    def is_leader(self) -> bool:
        """True only while the last renewal is within the renew deadline."""
        return self._leader and (
            self._clock() - self._renewed_at < self._timing.renew_deadline_seconds
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Try to acquire or renew every retry period; release the Lease on the way out."""
        try:
            while not stop.is_set():
                await self.attempt()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=self._pause())
        finally:
            if self._leader:
                await self.release()

    async def attempt(self) -> bool:
        """One acquire-or-renew; True when this replica leads afterwards."""
        was = self._leader
        try:
            held = await asyncio.to_thread(self._try_acquire_or_renew)
        except ClusterError as exc:
            log.warning("lease %s not renewed: %s", self._ref, exc)
            self._leader = self.is_leader  # the API unreachable: leading until the deadline
        else:
            if held:
                self._renewed_at = self._clock()
            self._leader = held  # someone else holds it, or won a race: not us
        if self._leader != was:
            change = "acquired" if self._leader else "lost"
            log.warning("leadership %s", change, extra={"lease": str(self._ref)})
            self._tell(change)
        self._metrics.leader.set(1 if self._leader else 0)
        return self._leader

    async def release(self) -> None:
        """Hand the Lease back so another replica takes over at its next retry."""
        if self._leader:
            self._tell("released")
        self._leader = False
        self._metrics.leader.set(0)
        try:
            lease = await asyncio.to_thread(self._cluster.read, self._ref)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            spec.update(holderIdentity=None, leaseDurationSeconds=1, renewTime=_now_micro())
            lease["spec"] = spec
            await asyncio.to_thread(self._cluster.replace_lease, self._ref.namespace, lease)
            log.info("lease released", extra={"lease": str(self._ref)})
        except ClusterError as exc:
            log.warning("lease %s not released: %s", self._ref, exc)

    def _tell(self, change: str) -> None:
        if self._changed is not None:
            self._changed(change)

    def _pause(self) -> float:
        """Until the next attempt: the retry period, or less when another holder's lease runs
        out sooner (wake then, not up to a retry period later)."""
        retry = self._timing.retry_seconds
        if self._leader or self._expires_at is None:
            return retry
        return max(0.05, min(retry, self._expires_at - self._clock()))

    def _try_acquire_or_renew(self) -> bool:
        sent = self._clock()
        self._expires_at = None
        try:
            lease = self._cluster.read(self._ref)
        except NotFound:
            lease = None
        now = self._clock()
        before, self._read_sent = self._read_sent, sent
        if lease is None:
            try:
                self._cluster.create_lease(self._ref.namespace, self._record(None))
            except Conflict:  # another replica created it first
                return False
            return True
        self.paused = paused(lease)
        spec = lease.get("spec") or {}
        holder = spec.get("holderIdentity")
        key = (holder, spec.get("renewTime"), spec.get("leaseTransitions"))
        if key != self._seen:
            # renewed after our previous read was sent and before this one came back: date it
            # from the former only when the two are closer than lease - renew deadline (the
            # margin by which the old leader has stopped acting), else from now, as client-go
            margin = self._timing.lease_seconds - self._timing.renew_deadline_seconds
            recent = before is not None and now - before <= margin
            self._seen, self._seen_at = key, before if recent and before is not None else now
        duration = float(spec.get("leaseDurationSeconds") or self._timing.lease_seconds)
        if holder and holder != self.identity and now < self._seen_at + duration:
            self._expires_at = self._seen_at + duration
            return False  # someone else holds a lease that has not expired
        lease["spec"] = self._record(lease)["spec"]
        try:
            self._cluster.replace_lease(self._ref.namespace, lease)
        except Conflict:
            return False
        return True

    def _record(self, lease: dict[str, Any] | None) -> dict[str, Any]:
        """The Lease as this replica holds it (a renewal keeps acquireTime and transitions)."""
        stamp = _now_micro()
        spec = dict((lease or {}).get("spec") or {})
        ours = spec.get("holderIdentity") == self.identity
        transitions = int(spec.get("leaseTransitions") or 0)
        return {
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": self._ref.name, "namespace": self._ref.namespace},
            "spec": {
                "holderIdentity": self.identity,
                "leaseDurationSeconds": int(self._timing.lease_seconds),
                "acquireTime": spec.get("acquireTime") if ours else stamp,
                "renewTime": stamp,
                "leaseTransitions": transitions if ours or lease is None else transitions + 1,
            },
        }


def _now_micro() -> str:
    """MicroTime, as Leases carry it."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
