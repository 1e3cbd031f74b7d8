"""Commands on the cluster for operators: rollout abort, retry and promote."""

from __future__ import annotations

from pathlib import Path

import click

from sloguard.cli.common import main, reports_errors


@main.command(name="rollout")
@click.argument("verb", type=click.Choice(["abort", "retry", "promote"]))
@click.argument("name")
@click.option("-n", "--namespace", default="default", show_default=True)
@click.option(
    "--kubeconfig",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    default=None,
    help="Kubeconfig for the API (default: the in-cluster service account, else ~/.kube/config).",
)
@reports_errors
def rollout_command(verb: str, name: str, namespace: str, kubeconfig: Path | None) -> None:
    """Abort, retry or promote an Argo Rollout, as `kubectl argo rollouts` does.

    For operators after sloguard aborted a canary: `retry` starts the update again, `promote`
    moves a paused canary on (clears pause conditions, unpauses). Exit 2 when the Rollout is
    missing or the API refuses.
    """
    from sloguard.kube import Cluster, api_client
    from sloguard.playbook.model import ObjectRef
    from sloguard.playbook.rollback import control_rollout

    cluster = Cluster(api_client(kubeconfig))
    rollout = cluster.read(ObjectRef("Rollout", namespace, name))
    for patch in control_rollout(rollout, verb):
        cluster.patch(patch)
    done = {"abort": "aborted", "retry": "retrying", "promote": "promoted"}[verb]
    click.echo(f"{done} Rollout {namespace}/{name}")
