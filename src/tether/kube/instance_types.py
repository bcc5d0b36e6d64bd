"""Creating the InstanceType custom resources a compute's attach body defines.

An attach body may carry ``properties.properties.instanceTypes`` (name → node selector and resources, the
shape a compute answers). The attach creates each one missing from the cluster as an ``InstanceType``
(cluster-scoped, so every compute on the cluster sees it, as Azure's are). One that exists with the same
definition is left as it is; one that exists with another definition (the built-in ``defaultinstancetype``
included) is never overwritten (other computes' jobs rely on it): the attach fails with
``InstanceTypeConflict`` naming both.

Hazard: the custom resources outlive the compute; a detach does not remove them (another compute on the
cluster may use them). ``kubectl delete instancetype <name>`` removes one.
"""

from __future__ import annotations

from collections.abc import Iterable

from lightkube import AsyncClient
from lightkube.models.meta_v1 import ObjectMeta

from tether.errors import Conflict
from tether.kube.errors import kube_call
from tether.kube.extension_status import InstanceTypeInfo
from tether.kube.resources import InstanceType


def _spec(info: InstanceTypeInfo) -> dict[str, object]:
    body = info.to_arm()
    return {k: v for k, v in body.items() if v is not None}


async def ensure_instance_types(
    client: AsyncClient, wanted: Iterable[InstanceTypeInfo], *, present: Iterable[InstanceTypeInfo]
) -> list[str]:
    """Create the ``wanted`` types missing from ``present`` (the cluster's, as read); returns the names created."""
    existing = {it.name: it for it in present}
    created: list[str] = []
    for info in wanted:
        found = existing.get(info.name)
        if found is not None:
            if found.to_arm() != info.to_arm():
                raise Conflict(
                    f"The cluster already has an InstanceType '{info.name}' defined as {found.to_arm()}; the attach "
                    f"asks for {info.to_arm()}. Use another name, or send the cluster's definition "
                    f"(kubectl get instancetype {info.name} -o yaml).",
                    code="InstanceTypeConflict",
                    target=f"properties.properties.instanceTypes.{info.name}",
                )
            continue
        async with kube_call(f"creating InstanceType {info.name}"):
            await client.create(InstanceType(metadata=ObjectMeta(name=info.name), spec=_spec(info)))
        created.append(info.name)
    return created
