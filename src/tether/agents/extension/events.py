"""Kubernetes Events on a TetherJob, so that ``kubectl describe tjob`` tells its story.

One Event per phase change (``Normal``, or ``Warning`` for waits and failures), with the status's reason
and message. Best effort: an Event that cannot be written is logged at DEBUG and forgotten — the
status is the contract, Events are for people.

Hazards: every call creates a new Event (no aggregation or rate limiting); the API server expires them
(one hour by default).
"""

from __future__ import annotations

import logging
import secrets
from datetime import UTC, datetime

from lightkube import AsyncClient
from lightkube.models.core_v1 import EventSource, ObjectReference
from lightkube.models.meta_v1 import ObjectMeta
from lightkube.resources.core_v1 import Event

from tether.agents.extension.pods import JobRef
from tether.kube import extension_manifests as m
from tether.kube.errors import KUBE_ERRORS

log = logging.getLogger(__name__)

COMPONENT = "tether-extension-operator"
_MAX_MESSAGE = 1024


async def record_event(client: AsyncClient, job: JobRef, *, warning: bool, reason: str, message: str) -> None:
    now = datetime.now(UTC)
    event = Event(
        metadata=ObjectMeta(name=f"{job.name}.{secrets.token_hex(8)}", namespace=job.namespace),
        involvedObject=ObjectReference(
            apiVersion=f"{m.JOB_GROUP}/{m.JOB_VERSION}",
            kind=m.JOB_KIND,
            name=job.name,
            namespace=job.namespace,
            uid=job.uid,
        ),
        reason=reason,
        message=message[:_MAX_MESSAGE],
        type="Warning" if warning else "Normal",
        source=EventSource(component=COMPONENT),
        firstTimestamp=now,
        lastTimestamp=now,
        count=1,
    )
    try:
        await client.create(event)
    except KUBE_ERRORS as e:
        log.debug("could not record event %s on %s/%s: %s", reason, job.namespace, job.name, e)
