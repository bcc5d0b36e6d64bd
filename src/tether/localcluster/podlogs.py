"""The pod-log writer: gives simulated pods the log a test (or the ML-extension operator) asks for.

Convention (documented in docs/local-cluster.md): a pod annotated

* ``tether.dev/simulate-log: "<text>"`` prints ``<text>`` on stdout in every container,
* ``tether.dev/simulate-log.<container>: "<text>"`` prints ``<text>`` in that container only
  (overrides the former).

This process, run by ``tether local-cluster up`` as the ``podlogs`` component, watches pods in all
namespaces; for each annotated pod it writes the text as a CRI-format log file under the cluster's
``pod-logs/`` directory and creates a kwok ``Logs`` object (same name and namespace as the pod, owned
by it so garbage collection removes it) pointing at the files. kwok then serves them as the node's
kubelet, so ``GET pods/{name}/log`` works through the API server. Pods without the annotation get an
empty log (kwok's cluster-wide fallback). Hazard: the files are only as fresh as the watch; a reader
that races pod creation by milliseconds may see the empty fallback.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import hashlib
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path

from lightkube import AsyncClient, KubeConfig
from lightkube.core.exceptions import ApiError
from lightkube.generic_resource import create_namespaced_resource
from lightkube.models.meta_v1 import ObjectMeta, OwnerReference
from lightkube.resources.core_v1 import Pod
from lightkube.types import OnErrorAction, OnErrorResult

SIMULATE_LOG_ANNOTATION = "tether.dev/simulate-log"
_PER_CONTAINER_PREFIX = SIMULATE_LOG_ANNOTATION + "."
EMPTY_LOG_NAME = "empty.log"
_FIELD_MANAGER = "tether-podlogs"

KwokLogs = create_namespaced_resource("kwok.x-k8s.io", "v1alpha1", "Logs", "logs")

log = logging.getLogger("tether.podlogs")


def requested_logs(annotations: Mapping[str, str] | None) -> dict[str | None, str]:
    """Log text per container name from a pod's annotations; key None means "every container"."""
    texts: dict[str | None, str] = {}
    for key, value in (annotations or {}).items():
        if key == SIMULATE_LOG_ANNOTATION:
            texts[None] = value
        elif key.startswith(_PER_CONTAINER_PREFIX) and len(key) > len(_PER_CONTAINER_PREFIX):
            texts[key[len(_PER_CONTAINER_PREFIX) :]] = value
    return texts


def render_cri_log(text: str, *, timestamp: dt.datetime) -> str:
    """``text`` as CRI container-log lines (``<RFC3339Nano> stdout F <line>``), the format kwok reads."""
    stamp = timestamp.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
    return "".join(f"{stamp} stdout F {line}\n" for line in text.splitlines())


def _write_atomically(path: Path, content: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(content)
    os.replace(tmp, path)


class PodLogWriter:
    """Turns annotated pods into log files plus kwok ``Logs`` objects; remembers what it already wrote."""

    def __init__(self, client: AsyncClient, log_dir: Path) -> None:
        self._client = client
        self._log_dir = log_dir
        self._written: dict[str, str] = {}  # pod uid -> digest of the annotations last written

    def _pod_dir(self, *, namespace: str, name: str, uid: str) -> Path:
        return self._log_dir / namespace / f"{name}_{uid}"

    async def sync(self, event: str, pod: Pod) -> None:
        meta = pod.metadata
        if meta is None or not meta.name or not meta.namespace or not meta.uid:
            return
        if event == "DELETED":
            self._written.pop(meta.uid, None)
            pod_dir = self._pod_dir(namespace=meta.namespace, name=meta.name, uid=meta.uid)
            for file in pod_dir.glob("*.log"):
                file.unlink(missing_ok=True)
            if pod_dir.is_dir():
                pod_dir.rmdir()
            return
        texts = requested_logs(meta.annotations)
        if not texts:
            return
        digest = hashlib.sha256(repr(sorted(texts.items(), key=str)).encode()).hexdigest()
        if self._written.get(meta.uid) == digest:
            return
        pod_dir = self._pod_dir(namespace=meta.namespace, name=meta.name, uid=meta.uid)
        now = dt.datetime.now(dt.UTC)
        entries: list[dict[str, object]] = []
        for container, text in sorted(texts.items(), key=lambda item: item[0] or ""):
            file = pod_dir / f"{container or '_all'}.log"
            _write_atomically(file, render_cri_log(text, timestamp=now))
            entry: dict[str, object] = {"logsFile": str(file)}
            if container is not None:
                entry["containers"] = [container]
            entries.append(entry)
        if None not in texts:
            entries.append({"logsFile": str(self._log_dir / EMPTY_LOG_NAME)})
        logs = KwokLogs(
            metadata=ObjectMeta(
                name=meta.name,
                namespace=meta.namespace,
                ownerReferences=[OwnerReference(apiVersion="v1", kind="Pod", name=meta.name, uid=meta.uid)],
            ),
            spec={"logs": entries},
        )
        try:
            await self._client.apply(logs, field_manager=_FIELD_MANAGER, force=True)
        except ApiError as e:
            log.warning("could not record logs of pod %s/%s: %s", meta.namespace, meta.name, e)
            return
        self._written[meta.uid] = digest
        log.info("pod %s/%s: %d log file(s) written", meta.namespace, meta.name, len(texts))


def _retry_with_backoff(error: Exception, count: int) -> OnErrorResult:
    log.warning("pod watch failed (%s), retry %d", error, count)
    return OnErrorResult(OnErrorAction.RETRY, sleep=min(0.2 * count, 5.0))


async def run(*, kubeconfig: Path, log_dir: Path) -> None:
    """Watch pods forever and keep their simulated logs in place."""
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / EMPTY_LOG_NAME).touch()
    client = AsyncClient(config=KubeConfig.from_file(kubeconfig), trust_env=False)
    try:
        writer = PodLogWriter(client, log_dir)
        async for event, pod in client.watch(Pod, namespace="*", on_error=_retry_with_backoff):
            await writer.sync(event, pod)
    finally:
        await client.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tether.localcluster.podlogs")
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--log-dir", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    asyncio.run(run(kubeconfig=args.kubeconfig, log_dir=args.log_dir))


if __name__ == "__main__":
    main()
