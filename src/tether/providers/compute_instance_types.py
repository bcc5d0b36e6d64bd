"""The instance types an attach body defines (``properties.properties.instanceTypes``), validated.

Each is name → ``{"nodeSelector": {...} | null, "resources": {"requests": {cpu, memory}, "limits": {cpu,
memory[, nvidia.com/gpu]}}}``, the shape a compute answers. They are stored with the compute and, at
attach, created in the cluster as InstanceType custom resources (``tether.kube.instance_types``); the
compute then offers exactly these (plus the built-in default). A malformed one is refused here, before
anything is written. ``defaultInstanceType`` names the type jobs get when they name none; Tether's is
always the cluster's ``defaultinstancetype``, so another name is refused rather than ignored.
"""

from __future__ import annotations

import re
from typing import Any

from tether.errors import InvalidRequest
from tether.kube.extension_status import InstanceTypeInfo
from tether.protocol.computes import KubernetesProperties

DEFAULT_NAME = "defaultinstancetype"
_MAX_TYPES = 32
_NAME = re.compile(r"^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$")  # a Kubernetes object name (DNS-1123 subdomain)
# A Kubernetes resource quantity ("500m", "2", "4Gi", "1.5"), which must be above zero here.
_QUANTITY = re.compile(r"^(\d+(\.\d*)?|\.\d+)(Ki|Mi|Gi|Ti|Pi|Ei|m|k|M|G|T|P|E)?$")
_SHAPE = (
    '{"nodeSelector": {...} or null, "resources": {"requests": {"cpu": ..., "memory": ...}, '
    '"limits": {"cpu": ..., "memory": ...[, "nvidia.com/gpu": <whole number>]}}}'
)


def requested_instance_types(properties: KubernetesProperties | None) -> dict[str, dict[str, Any]]:
    """The attach body's instance types in the answered shape ({} when none are given), or a refusal."""
    if properties is None:
        return {}
    default = properties.defaultInstanceType
    if default is not None and default.lower() != DEFAULT_NAME:
        raise InvalidRequest(
            f"defaultInstanceType '{default}' cannot be honoured: a job that names no instance type runs with the "
            f"cluster's '{DEFAULT_NAME}'. Define an instance type named '{DEFAULT_NAME}' to change that default.",
            code="InvalidRequestContent",
            target="properties.properties.defaultInstanceType",
        )
    given = properties.instanceTypes or {}
    if len(given) > _MAX_TYPES:
        raise InvalidRequest(
            f"At most {_MAX_TYPES} instance types can be defined in one attach.", code="InvalidRequestContent"
        )
    parsed: dict[str, dict[str, Any]] = {}
    for name, body in given.items():
        target = f"properties.properties.instanceTypes.{name}"
        if not _NAME.fullmatch(name):
            raise InvalidRequest(
                f"Instance type name '{name[:80]}' is invalid: use lower-case letters, digits, '-' and '.' "
                "(a Kubernetes object name).",
                code="InvalidRequestContent",
                target=target,
            )
        try:
            if not isinstance(body, dict):
                raise TypeError("not an object")
            info = InstanceTypeInfo.from_arm(name, body)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise InvalidRequest(
                f"Instance type '{name}' is malformed ({e}); use {_SHAPE}.", code="InvalidRequestContent", target=target
            ) from e
        for where, values in (("requests", info.requests), ("limits", info.limits)):
            for key, value in values.items():
                if not _QUANTITY.fullmatch(value) or not any(c in "123456789" for c in value):
                    raise InvalidRequest(
                        f"Instance type '{name}': resources.{where}.{key} '{value[:40]}' is not a quantity above "
                        "zero (e.g. 500m, 2, 4Gi).",
                        code="InvalidRequestContent",
                        target=target,
                    )
        parsed[name] = info.to_arm()
    return parsed
