"""The ML extension operator's main loop: heartbeat and status report every few seconds, and the job
controller (TetherJob → pods, ``controller.JobController``) beside it, until SIGTERM.

Each pass runs the self-checks (``checks.collect_status``), writes the status ConfigMap
``tether-extension-status`` and then renews the heartbeat Lease ``tether-extension`` (status first, so
a fresh heartbeat never vouches for a missing report). On SIGTERM/SIGINT (or ``stop``) it finishes the
pass, releases the Lease (drops ``holderIdentity``) so readers see "stopped" at once, and returns.

It runs as the in-cluster Deployment (``in_cluster=True``: the pod's ServiceAccount) or, on clusters
whose nodes cannot run images, as a local process with a kubeconfig for the same ServiceAccount.
The job controller shares the client and the stop signal; it resyncs every ``interval_s`` and does not
run for ``once``. A job controller that dies of a programming error stops the operator (the error is
raised after the heartbeat is released), so a supervisor restarts it instead of leaving a zombie.

Hazards: a failed write is logged and retried next pass, never fatal, so a broken operator shows up as
a stale heartbeat; two operators on one cluster would overwrite each other's heartbeat (the
Deployment uses the Recreate strategy; do not run a local one beside it); a TokenRequest-issued
kubeconfig expires and is not renewed here.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from lightkube import AsyncClient, KubeConfig
from lightkube.models.coordination_v1 import LeaseSpec
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.coordination_v1 import Lease
from lightkube.resources.core_v1 import ConfigMap

from tether import __version__
from tether.agents.extension.checks import collect_status
from tether.agents.extension.controller import JobController
from tether.errors import InvalidRequest, TetherError
from tether.kube import extension_manifests as m
from tether.kube.errors import KUBE_ERRORS, kube_error
from tether.kube.extension_status import StatusReport

log = logging.getLogger(__name__)

FIELD_MANAGER = "tether-extension-operator"
DEFAULT_INTERVAL_S = 5.0
LEASE_DURATION_S = 30


def default_identity() -> str:
    """``<host>/<pid>``: the heartbeat holder (the pod name in-cluster, as the pod's hostname)."""
    return f"{socket.gethostname()}/{os.getpid()}"


def _client(*, kubeconfig_path: Path | None, in_cluster: bool) -> AsyncClient:
    if in_cluster == (kubeconfig_path is not None):
        raise InvalidRequest("Give exactly one of a kubeconfig path or in_cluster=True.")
    try:
        config = KubeConfig.from_service_account() if in_cluster else KubeConfig.from_file(str(kubeconfig_path))
    except (OSError, KeyError, ValueError, TypeError) as e:
        source = "the pod's ServiceAccount" if in_cluster else f"kubeconfig {kubeconfig_path}"
        raise InvalidRequest(f"Cannot load {source}: {type(e).__name__}: {e}", code="InvalidKubeconfig") from e
    return AsyncClient(config=config, trust_env=False)


async def write_status(client: AsyncClient, report: StatusReport, *, namespace: str) -> None:
    body = ConfigMap(
        metadata=ObjectMeta(name=m.STATUS_CONFIG_MAP_NAME, namespace=namespace, labels=dict(m.LABELS)),
        data=report.to_data(),
    )
    try:
        await client.apply(body, field_manager=FIELD_MANAGER, force=True)
    except KUBE_ERRORS as e:
        raise kube_error(e, doing=f"writing ConfigMap {namespace}/{m.STATUS_CONFIG_MAP_NAME}") from e


async def write_heartbeat(
    client: AsyncClient, *, namespace: str, holder: str | None, renewed: datetime, acquired: datetime
) -> None:
    """Apply the Lease; ``holder=None`` releases it (server-side apply drops the field we owned)."""
    spec = LeaseSpec(leaseDurationSeconds=LEASE_DURATION_S, renewTime=renewed, acquireTime=acquired)
    if holder is not None:
        spec.holderIdentity = holder
    body = Lease(
        metadata=ObjectMeta(name=m.HEARTBEAT_LEASE_NAME, namespace=namespace, labels=dict(m.LABELS)), spec=spec
    )
    try:
        await client.apply(body, field_manager=FIELD_MANAGER, force=True)
    except KUBE_ERRORS as e:
        raise kube_error(e, doing=f"writing Lease {namespace}/{m.HEARTBEAT_LEASE_NAME}") from e


async def run_pass(
    client: AsyncClient, *, namespace: str, holder: str, acquired: datetime, version: str = __version__
) -> StatusReport:
    """One pass: checks, status ConfigMap, heartbeat. Raises ``TetherError`` if a write fails."""
    report = await collect_status(client, namespace=namespace, version=version)
    await write_status(client, report, namespace=namespace)
    await write_heartbeat(client, namespace=namespace, holder=holder, renewed=datetime.now(UTC), acquired=acquired)
    return report


def _log_outcome(report: StatusReport, previous: StatusReport | None) -> None:
    """INFO when the set of failing checks changes, DEBUG otherwise (a pass every few seconds)."""
    failed = [f"{c.name} ({c.message})" for c in report.checks if not c.ok]
    before = [f"{c.name} ({c.message})" for c in previous.checks if not c.ok] if previous else None
    level = logging.INFO if failed != before else logging.DEBUG
    log.log(level, "heartbeat written; %s", f"checks failing: {'; '.join(failed)}" if failed else "all checks pass")


@contextlib.contextmanager
def _signals_set(stop: asyncio.Event, *, enabled: bool) -> Iterator[None]:
    loop = asyncio.get_running_loop()
    installed = []
    if enabled:
        for sig in (signal.SIGTERM, signal.SIGINT):
            try:
                loop.add_signal_handler(sig, stop.set)
                installed.append(sig)
            except (NotImplementedError, RuntimeError, ValueError):
                log.debug("cannot handle %s here (not the main thread?)", sig.name)
    try:
        yield
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)


async def run_operator(
    *,
    kubeconfig_path: Path | None = None,
    in_cluster: bool = False,
    namespace: str = m.DEFAULT_NAMESPACE,
    interval_s: float = DEFAULT_INTERVAL_S,
    once: bool = False,
    identity: str | None = None,
    stop: asyncio.Event | None = None,
    handle_signals: bool = True,
    jobs: bool = True,
) -> StatusReport | None:
    """Run the operator until SIGTERM/SIGINT or ``stop``; with ``once``, one pass and its report.

    ``jobs`` runs the job controller beside the heartbeat (never with ``once``).

    Either way it ends by releasing the heartbeat. With ``once`` a failing write raises
    (``TetherError``); otherwise failures are logged and retried. Returns the last report written
    (``None`` if none was).
    """
    stop = stop or asyncio.Event()
    holder = identity or default_identity()
    acquired = datetime.now(UTC)
    last: StatusReport | None = None
    async with _client(kubeconfig_path=kubeconfig_path, in_cluster=in_cluster) as client:
        with _signals_set(stop, enabled=handle_signals):
            log.info("tether-extension operator %s starting in namespace %s as %s", __version__, namespace, holder)
            controller: asyncio.Task[None] | None = None
            if jobs and not once:
                job_controller = JobController(client, release_namespace=namespace, resync_s=interval_s)
                controller = asyncio.create_task(job_controller.run(stop))
                controller.add_done_callback(lambda _: stop.set())
            while True:
                try:
                    report = await run_pass(client, namespace=namespace, holder=holder, acquired=acquired)
                    _log_outcome(report, last)
                    last = report
                except TetherError as e:
                    if once:
                        raise
                    log.warning("pass failed, retrying in %.0f s: %s", interval_s, e)
                if once:
                    break  # a one-off pass must not look like a running operator: release at once
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), timeout=interval_s)
                if stop.is_set():
                    break
            log.info("stopping: releasing the heartbeat")
            try:
                renewed = datetime.now(UTC)
                await write_heartbeat(client, namespace=namespace, holder=None, renewed=renewed, acquired=acquired)
            except TetherError as e:
                log.warning("could not release the heartbeat (it will go stale instead): %s", e)
            if controller is not None:
                await controller  # raises what stopped it early, if anything did
    return last
