"""Gang placement: do all of a job's pods fit on the cluster's nodes right now? (pure: no I/O)

A job's ``instanceCount`` pods start together or not at all, so before creating any pod the operator
asks ``plan_gang`` with the nodes and the cluster's non-terminal pods. A node's room is its
allocatable minus the requests of the non-terminal pods bound to it (``cpu``, ``memory``,
``nvidia.com/gpu``, the ``pods`` count, as kube-scheduler's NodeResourcesFit counts them); only Ready,
schedulable nodes that match the instance type's node selector and whose ``NoSchedule``/``NoExecute``
taints the pods tolerate are eligible. Pods of other Tether jobs that are created but not bound yet
are counted as if placed first-fit, so two jobs admitted back to back do not both count the same room.

Hazards: this is a prediction, not a reservation — kube-scheduler places the pods, and pods created
by others between the check and the pods' creation can take the room (the job then shows ``Starting``
with the scheduler's ``Unschedulable`` message until room frees up); node affinity, pod (anti-)
affinity, topology spread and resource quotas are not modelled; unparseable quantities count as zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from lightkube.resources.core_v1 import Node, Pod
from lightkube.utils.quantity import parse_quantity

from tether.agents.extension.jobspec import JOB_LABEL
from tether.kube import extension_manifests as m

PODS = "pods"
TERMINAL_POD_PHASES = ("Succeeded", "Failed")
_SCHEDULING_EFFECTS = ("NoSchedule", "NoExecute")
TIMES = "\u00d7"  # the multiplication sign: "needs 3 pods TIMES (cpu 2, memory 2Gi)"
_ORDER = {"cpu": 0, "memory": 1, m.GPU_RESOURCE: 2}


def quantity(value: object) -> Decimal:
    """A Kubernetes quantity as a number (``"100m"`` → 0.1, ``"2Gi"`` → 2147483648); garbage → 0."""
    try:
        parsed = parse_quantity(str(value))
    except ValueError:
        return Decimal(0)
    return parsed if parsed is not None else Decimal(0)


def _add(total: dict[str, Decimal], values: Mapping[str, object] | None) -> None:
    for key, value in (values or {}).items():
        total[key] = total.get(key, Decimal(0)) + quantity(value)


def pod_demand(pod: Pod) -> dict[str, Decimal]:
    """What a pod holds on its node: containers' requests (or limits), at least the largest init container's."""
    demand: dict[str, Decimal] = {PODS: Decimal(1)}
    spec = pod.spec
    if spec is None:
        return demand
    for container in spec.containers or []:
        resources = container.resources
        if resources is not None:
            _add(demand, resources.requests if resources.requests is not None else resources.limits)
    for init in spec.initContainers or []:
        single: dict[str, Decimal] = {}
        if init.resources is not None:
            _add(single, init.resources.requests if init.resources.requests is not None else init.resources.limits)
        for key, value in single.items():
            demand[key] = max(demand.get(key, Decimal(0)), value)
    _add(demand, spec.overhead)
    return demand


def _tolerates(tolerations: Sequence[Mapping[str, Any]], taint: Mapping[str, Any]) -> bool:
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("operator") == "Exists":
            if not t.get("key") or t.get("key") == taint.get("key"):
                return True
        elif t.get("key") == taint.get("key") and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def node_accepts(node: Node, *, node_selector: Mapping[str, str], tolerations: Sequence[Mapping[str, Any]]) -> bool:
    """Ready, schedulable, labels match the selector, every scheduling taint tolerated."""
    labels = (node.metadata.labels if node.metadata else None) or {}
    if any(labels.get(k) != v for k, v in node_selector.items()):
        return False
    spec, status = node.spec, node.status
    if spec is not None and spec.unschedulable:
        return False
    if status is None or not any(c.type == "Ready" and c.status == "True" for c in status.conditions or []):
        return False
    taints = [t.to_dict() for t in (spec.taints or [])] if spec is not None else []
    return all(_tolerates(tolerations, t) for t in taints if t.get("effect") in _SCHEDULING_EFFECTS)


def _fits(free: Mapping[str, Decimal], demand: Mapping[str, Decimal]) -> int:
    """How many pods of ``demand`` fit in ``free`` (a large number when nothing is demanded).

    A node that does not report a ``pods`` allocatable is not limited by pod count.
    """
    counts = [int(free.get(k, Decimal(0)) // v) for k, v in demand.items() if v > 0 and (k != PODS or k in free)]
    return max(0, min(counts)) if counts else 1 << 30


@dataclass(frozen=True)
class NodeRoom:
    name: str
    eligible: bool
    allocatable: Mapping[str, Decimal]
    free: Mapping[str, Decimal]


def node_rooms(
    nodes: Iterable[Node],
    pods: Iterable[Pod],
    *,
    node_selector: Mapping[str, str],
    tolerations: Sequence[Mapping[str, Any]],
) -> list[NodeRoom]:
    """Every node's allocatable and what is left of it after the non-terminal pods (bound or ours, pending)."""
    allocatable: dict[str, dict[str, Decimal]] = {}
    free: dict[str, dict[str, Decimal]] = {}
    eligible: dict[str, bool] = {}
    node_list = sorted(nodes, key=lambda n: n.metadata.name if n.metadata and n.metadata.name else "")
    for node in node_list:
        name = node.metadata.name if node.metadata and node.metadata.name else ""
        values = (node.status.allocatable or node.status.capacity or {}) if node.status else {}
        allocatable[name] = {k: quantity(v) for k, v in values.items()}
        free[name] = dict(allocatable[name])
        eligible[name] = node_accepts(node, node_selector=node_selector, tolerations=tolerations)
    unbound: list[Pod] = []
    for pod in pods:
        if pod.status is not None and pod.status.phase in TERMINAL_POD_PHASES:
            continue
        bound_to = pod.spec.nodeName if pod.spec else None
        if bound_to:
            if bound_to in free:
                _take(free[bound_to], pod_demand(pod))
        elif ((pod.metadata.labels if pod.metadata else None) or {}).get(JOB_LABEL):
            unbound.append(pod)  # created by the operator for an admitted job: the scheduler will place it
    by_name = {n.metadata.name: n for n in node_list if n.metadata and n.metadata.name}
    for pod in unbound:
        demand = pod_demand(pod)
        selector = (pod.spec.nodeSelector if pod.spec else None) or {}
        pod_tolerations = [t.to_dict() for t in ((pod.spec.tolerations if pod.spec else None) or [])]
        for name, node in by_name.items():
            ok = node_accepts(node, node_selector=selector, tolerations=pod_tolerations)
            if ok and _fits(free[name], demand) >= 1:
                _take(free[name], demand)
                break
    return [NodeRoom(name, eligible[name], allocatable[name], free[name]) for name in allocatable]


def _take(free: dict[str, Decimal], demand: Mapping[str, Decimal]) -> None:
    for key, value in demand.items():
        free[key] = free.get(key, Decimal(0)) - value


@dataclass(frozen=True)
class GangPlan:
    """Whether the gang fits now; if not, ``message`` says what it needs and what is free."""

    fits: bool
    message: str
    nodes_with_room: int
    room: int
    """How many of the job's pods fit right now."""
    room_when_idle: int
    """How many would fit on the eligible nodes if nothing else ran there."""


def describe_resources(requests: Mapping[str, str]) -> str:
    """``cpu 2, memory 2Gi, nvidia.com/gpu 1``."""
    ordered = sorted(requests.items(), key=lambda kv: (_ORDER.get(kv[0], 9), kv[0]))
    return ", ".join(f"{k} {v}" for k, v in ordered)


def _selector_text(node_selector: Mapping[str, str]) -> str:
    return ",".join(f"{k}={v}" for k, v in sorted(node_selector.items())) or "any node"


def plan_gang(
    rooms: Sequence[NodeRoom], *, count: int, requests: Mapping[str, str], node_selector: Mapping[str, str]
) -> GangPlan:
    """Do ``count`` pods, each requesting ``requests``, fit together on the eligible nodes?"""
    demand = {k: quantity(v) for k, v in requests.items()} | {PODS: Decimal(1)}
    eligible = [r for r in rooms if r.eligible]
    per_node = {r.name: min(_fits(r.free, demand), count) for r in eligible}
    room = sum(per_node.values())
    room_when_idle = sum(min(_fits(r.allocatable, demand), count) for r in eligible)
    with_room = {name: n for name, n in per_node.items() if n > 0}
    if room >= count:
        return GangPlan(True, "", len(with_room), room, room_when_idle)
    noun = "pod" if count == 1 else "pods"
    message = f"needs {count} {noun} {TIMES} ({describe_resources(requests)}); nodes with room: {len(with_room)}"
    if with_room:
        message += " (" + ", ".join(f"{name}: {n}" for name, n in sorted(with_room.items())) + ")"
    if not eligible:
        message += f". No Ready, schedulable node matches {_selector_text(node_selector)}"
        if m.GPU_RESOURCE in requests:
            message += " and accepts GPU pods"
        message += ": add such nodes or choose another instance type."
    elif room_when_idle < count:
        message += (
            f" of {len(eligible)} eligible; even with nothing else running they fit only {room_when_idle}: "
            "lower instanceCount, choose a smaller instance type or add nodes."
        )
    else:
        message += f" of {len(eligible)} eligible. The job starts when enough running pods finish."
    return GangPlan(False, message, len(with_room), room, room_when_idle)
