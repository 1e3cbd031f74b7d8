"""Leader election on a Lease in the fake API, through the real client: two replicas elect one
leader, exactly one acts, and when the leader dies the other takes over (at the defaults, 15 s
lease and 2 s retry) without repeating the action."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from opentelemetry.trace import NoOpTracer
from prometheus_client import CollectorRegistry

from sloguard.actions.audit import Line
from sloguard.actions.leader import LeaderElector, Timing
from sloguard.actions.runtime import ActionRuntime, ActionSettings
from sloguard.evaluation.model import Status
from sloguard.journal import Journal
from sloguard.kube import Cluster, api_client
from sloguard.telemetry.metrics import ActionMetrics
from tests.support.actions import NOW, Rig, Saturation, evaluation, mid_rollout, rollback, spec
from tests.support.fakeapi import FakeAPI, running_api
from tests.support.scenes import rollout

pytestmark = pytest.mark.integration  # starts real processes or servers

LEASES = "/apis/coordination.k8s.io/v1/namespaces/shop/leases"


def elector(
    api: FakeAPI, tmp: Path, identity: str, timing: Timing | None = None
) -> tuple[LeaderElector, CollectorRegistry]:
    registry = CollectorRegistry()
    cluster = Cluster(api_client(api.kubeconfig(tmp)))
    return LeaderElector(
        cluster, "shop", "sloguard", identity, ActionMetrics(registry), timing
    ), registry


def runtime_for(
    api: FakeAPI,
    tmp: Path,
    settings: ActionSettings,
    journal: Journal[Line] | None = None,
    connected_in: list[threading.Thread] | None = None,
) -> ActionRuntime:
    """The actions as the agent runs them, connecting to the fake API when first needed (in
    the threads listed in `connected_in`)."""
    config = api.kubeconfig(tmp)

    def connect() -> Cluster:
        if connected_in is not None:
            connected_in.append(threading.current_thread())
        return Cluster(api_client(config))

    return ActionRuntime(
        settings, Saturation(), CollectorRegistry(), NoOpTracer(), connect, journal=journal
    )


async def heartbeat(
    replica: LeaderElector, alive: asyncio.Event, retry: float, renewals: list[float]
) -> None:
    """A replica's election loop that can die without releasing (a crash, a lost node)."""
    while alive.is_set():
        if await replica.attempt():
            renewals.append(time.monotonic())
        await asyncio.sleep(retry)


def test_timings_that_cannot_work_are_refused() -> None:
    with pytest.raises(ValueError, match="lease > renew deadline"):
        Timing(lease_seconds=10, renew_deadline_seconds=10, retry_seconds=2)
    with pytest.raises(ValueError, match="lease - renew deadline >= retry"):
        Timing(lease_seconds=15, renew_deadline_seconds=14, retry_seconds=2)


def test_the_first_replica_creates_the_lease_and_renews_it(tmp_path: Path) -> None:
    with running_api() as api:
        first, registry = elector(api, tmp_path, "sloguard-0")
        assert asyncio.run(first.attempt()) is True
        lease = api.get("Lease", "shop", "sloguard")
        assert lease["spec"]["holderIdentity"] == "sloguard-0"
        assert lease["spec"]["leaseDurationSeconds"] == 15
        assert registry.get_sample_value("sloguard_leader") == 1
        version = lease["metadata"]["resourceVersion"]
        assert asyncio.run(first.attempt()) is True
        renewed = api.get("Lease", "shop", "sloguard")
        assert renewed["metadata"]["resourceVersion"] != version
        assert renewed["spec"]["acquireTime"] == lease["spec"]["acquireTime"]
        assert renewed["spec"]["leaseTransitions"] == 0
        assert [(c.method, c.path) for c in api.calls] == [
            ("GET", f"{LEASES}/sloguard"),
            ("POST", LEASES),
            ("GET", f"{LEASES}/sloguard"),
            ("PUT", f"{LEASES}/sloguard"),
        ]


def test_a_replica_losing_a_race_for_the_lease_does_not_lead(tmp_path: Path) -> None:
    with running_api() as api:
        first, _ = elector(api, tmp_path, "sloguard-0")
        second, registry = elector(api, tmp_path, "sloguard-1")
        assert asyncio.run(first.attempt())
        api.before_write.append(lambda: api.put(api.get("Lease", "shop", "sloguard")))
        assert asyncio.run(first.attempt()) is False  # 409 on renew: someone else wrote
        assert asyncio.run(second.attempt()) is False  # the lease is fresh: not expired
        assert registry.get_sample_value("sloguard_leader") == 0


def test_two_replicas_elect_one_leader_and_exactly_one_acts(rig: Rig, tmp_path: Path) -> None:
    mid_rollout(rig)
    timing = Timing(lease_seconds=3, renew_deadline_seconds=2, retry_seconds=0.5)
    a, _ = elector(rig.api, tmp_path, "sloguard-a", timing)
    b, _ = elector(rig.api, tmp_path, "sloguard-b", timing)

    async def scenario() -> list[Any]:
        stop = asyncio.Event()
        loops = [asyncio.create_task(a.run(stop)), asyncio.create_task(b.run(stop))]
        leaders = []
        for _ in range(20):
            await asyncio.sleep(0.1)
            leaders.append(a.is_leader + b.is_leader)
        actors = [rig.actor(), rig.actor()]
        actors[0].leading, actors[1].leading = (lambda: a.is_leader), (lambda: b.is_leader)
        outcomes = [
            await actor.act([spec(rollback())], [evaluation("availability", Status.CRITICAL)])
            for actor in actors
        ]
        stop.set()
        await asyncio.gather(*loops)
        return [leaders, outcomes]

    leaders, outcomes = asyncio.run(scenario())
    assert max(leaders) == 1 and leaders[-1] == 1
    assert sorted(len(o) for o in outcomes) == [0, 1]
    assert sum(c.method == "PATCH" for c in rig.api.calls) == 1
    # stopping released the lease: nobody holds it
    assert rig.api.get("Lease", "shop", "sloguard")["spec"].get("holderIdentity") is None


def test_a_released_lease_is_taken_at_the_next_retry(tmp_path: Path) -> None:
    with running_api() as api:
        timing = Timing(lease_seconds=15, renew_deadline_seconds=10, retry_seconds=2)
        a, _ = elector(api, tmp_path, "sloguard-a", timing)
        b, _ = elector(api, tmp_path, "sloguard-b", timing)

        async def scenario() -> float:
            assert await a.attempt()
            assert not await b.attempt()
            await a.release()
            started = time.monotonic()
            assert await b.attempt()
            return time.monotonic() - started

        assert asyncio.run(scenario()) < 1.0
        lease = api.get("Lease", "shop", "sloguard")
        assert lease["spec"]["holderIdentity"] == "sloguard-b"
        assert lease["spec"]["leaseTransitions"] == 1


def test_when_the_leader_dies_the_other_takes_over_and_does_not_act_twice(
    rig: Rig, tmp_path: Path
) -> None:
    """At the defaults (15/10/2 s): the follower leads within the lease duration of the dead
    leader's last renewal (and so within 15 s of its death)."""
    mid_rollout(rig)
    a, _ = elector(rig.api, tmp_path, "sloguard-a")
    b, _ = elector(rig.api, tmp_path, "sloguard-b")

    async def scenario() -> tuple[float, float, list[Any], list[Any]]:
        a_alive, stop = asyncio.Event(), asyncio.Event()
        a_alive.set()
        renewals: list[float] = []
        a_loop = asyncio.create_task(heartbeat(a, a_alive, 2.0, renewals))
        while not renewals:  # a holds the Lease
            await asyncio.sleep(0.05)
        b_loop = asyncio.create_task(b.run(stop))
        while len(renewals) < 2:  # b has tried meanwhile (at once, then every 2 s); a renewed
            await asyncio.sleep(0.05)
        assert a.is_leader and not b.is_leader
        actor_a, actor_b = rig.actor(), rig.actor()
        actor_a.leading, actor_b.leading = (lambda: a.is_leader), (lambda: b.is_leader)
        paging = [evaluation("availability", Status.CRITICAL)]
        first = await actor_a.act([spec(rollback())], paging)
        a_alive.clear()  # dies: no release, no more renewals
        died = time.monotonic()
        await a_loop
        while not b.is_leader:
            await asyncio.sleep(0.05)
            assert time.monotonic() - died < 25, "no takeover"
        took_over = time.monotonic()
        rig.clock.now = NOW + (took_over - died)
        second = await actor_b.act([spec(rollback())], paging)
        stop.set()
        await b_loop
        return took_over - died, took_over - renewals[-1], first, second

    after_death, after_renewal, first, second = asyncio.run(scenario())
    print(f"takeover {after_death:.1f}s after the leader died")
    assert after_death <= after_renewal <= 15 + 1  # the lease, and the API's time under load
    assert [o.result.value for o in first] == ["done"]
    assert not [o for o in second if o.result.value == "done"]  # reads what the other did
    assert sum(c.method == "PATCH" and "deployments" in c.path for c in rig.api.calls) == 1


def test_the_pause_annotation_on_the_lease_stops_every_action_at_the_next_cycle(
    tmp_path: Path,
) -> None:
    with running_api() as api:
        settings = ActionSettings(lease_namespace="shop", audit_log=tmp_path / "audit.jsonl")
        journal: Journal[Line] = Journal(10)
        runtime = runtime_for(api, tmp_path, settings, journal)
        rollout(api, "checkout", current="7f9c", stable="5d4b")
        actions = {
            "target": {"kind": "Rollout", "name": "checkout", "namespace": "shop"},
            "rollback": {"mode": "enforce"},
        }
        paging = [evaluation("availability", Status.CRITICAL)]

        def cycle() -> None:
            asyncio.run(runtime.act([spec(actions)], paging))
            assert runtime.elector is not None
            asyncio.run(runtime.elector.attempt())
            asyncio.run(runtime.act([spec(actions)], paging))

        asyncio.run(elector(api, tmp_path, "sloguard")[0].attempt())  # the Lease exists
        lease = api.get("Lease", "shop", "sloguard")
        lease["metadata"]["annotations"] = {"sloguard.io/paused": "true"}
        api.put(lease)
        cycle()
        assert api.get("Rollout", "shop", "checkout")["status"]["abort"] is False
        lease = api.get("Lease", "shop", "sloguard")
        lease["metadata"]["annotations"] = {}
        api.put(lease)
        cycle()
        assert api.get("Rollout", "shop", "checkout")["status"]["abort"] is True
        # The audit trail tells the story, the agent's own changes beside the action.
        told = [(e.value["action"], e.value["result"]) for e in journal]
        expected = [("abort", "done"), ("kill_switch", "off"), ("kill_switch", "on"),
                    ("leadership", "acquired")]  # fmt: skip
        assert told == expected
        logged = [json.loads(line) for line in settings.audit_log.read_text().splitlines()]
        assert [(e["action"], e["result"]) for e in reversed(logged)] == expected
        assert logged[0]["target"] == {"kind": "Lease", "namespace": "shop", "name": "sloguard"}


def test_an_agent_without_actions_holds_no_lease_until_a_reload_brings_some(
    tmp_path: Path,
) -> None:
    with running_api() as api:
        settings = ActionSettings(
            lease_namespace="shop",
            timing=Timing(lease_seconds=3, renew_deadline_seconds=2, retry_seconds=0.5),
        )
        connected_in: list[threading.Thread] = []
        runtime = runtime_for(api, tmp_path, settings, connected_in=connected_in)
        rollout(api, "checkout", current="7f9c", stable="5d4b")
        bare = spec({"target": {"kind": "Rollout", "name": "checkout", "namespace": "shop"}})
        bare = bare.model_copy(update={"actions": None})
        acting = spec(
            {
                "target": {"kind": "Rollout", "name": "checkout", "namespace": "shop"},
                "rollback": {"mode": "enforce"},
            }
        )
        paging = [evaluation("availability", Status.CRITICAL)]

        async def scenario() -> None:
            stop = asyncio.Event()
            loop = asyncio.create_task(runtime.run(stop))
            await runtime.act([bare], paging)
            assert runtime.actor is None and runtime.elector is None
            assert api.calls == []  # nothing to do: no API, no Lease
            await runtime.act([acting], paging)  # the definitions were reloaded
            for _ in range(40):
                await asyncio.sleep(0.1)
                await runtime.act([acting], paging)
                if api.get("Rollout", "shop", "checkout")["status"]["abort"]:
                    break
            stop.set()
            await loop

        asyncio.run(scenario())
        assert api.get("Rollout", "shop", "checkout")["status"]["abort"] is True
        # Connected once, off the event loop's thread: the client's first import takes a second.
        assert len(connected_in) == 1 and connected_in[0] is not threading.main_thread()


@pytest.mark.parametrize(("gap", "expires"), [(2.0, 15.0), (8.0, 23.0)])
def test_a_renewal_is_dated_from_the_read_before_only_when_that_read_is_recent(
    tmp_path: Path, gap: float, expires: float
) -> None:
    """Reads 2 s apart: the renewal seen at 2 s happened after 0 s, so the lease runs out at
    15 s. Reads 8 s apart (more than lease - renew deadline): dated when seen, as client-go."""
    with running_api() as api:
        holder, _ = elector(api, tmp_path, "sloguard-a")
        now = [0.0]
        follower = LeaderElector(
            Cluster(api_client(api.kubeconfig(tmp_path))),
            "shop",
            "sloguard",
            "sloguard-b",
            ActionMetrics(CollectorRegistry()),
            clock=lambda: now[0],
        )
        assert asyncio.run(holder.attempt())
        assert not asyncio.run(follower.attempt())  # first sight at 0 s
        assert asyncio.run(holder.attempt())  # renewed, then dies
        now[0] = gap
        assert not asyncio.run(follower.attempt())
        now[0] = expires - 0.1
        assert not asyncio.run(follower.attempt())
        now[0] = expires
        assert asyncio.run(follower.attempt())
        assert api.get("Lease", "shop", "sloguard")["spec"]["holderIdentity"] == "sloguard-b"
