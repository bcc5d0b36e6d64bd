"""The demo's attach steps: the seed's two ``az ml compute attach`` commands verbatim, then multi-attach.

The seed commands keep their quirks on purpose (lower-case ``managedclusters``, an identity id without
its leading '/', ``--no-wait``): the demo shows that Tether takes them as az does.
"""

from __future__ import annotations

import time

from tether.cli.demo.narrator import Narrator
from tether.client.views import read_view
from tether.protocol.answers import ComputeAnswer


def attach_seed_computes(demo: Narrator, sub: str) -> None:
    """S13: the seed's two commands (az -> tether), then each compute once provisioned, and its identity (S9)."""
    demo.say("S13: the seed's first command, verbatim (az -> tether): managed cluster, system-assigned identity.")
    demo.tether(
        "ml",
        "compute",
        "attach",
        "--resource-group",
        "ml-rg",
        "--workspace-name",
        "ws1",
        "--type",
        "Kubernetes",
        "--name",
        "k8s-compute",
        "--resource-id",
        f"/subscriptions/{sub}/resourceGroups/ml-rg/providers/Microsoft.ContainerService/managedclusters/aks-cluster",
        "--identity-type",
        "SystemAssigned",
        "--namespace",
        "team-a",
        "--no-wait",
    )
    demo.say("S13: the seed's second command: connected cluster, user-assigned identity (id without its '/').")
    demo.tether("identity", "create", "-g", "ml-rg", "-n", "team-b-identity", "-o", "none")
    demo.tether(
        "ml",
        "compute",
        "attach",
        "--resource-group",
        "ml-rg",
        "--workspace-name",
        "ws1",
        "--type",
        "Kubernetes",
        "--name",
        "amlarc-compute",
        "--resource-id",
        f"/subscriptions/{sub}/resourceGroups/ml-rg/providers/Microsoft.Kubernetes/connectedClusters/arc-cluster",
        "--user-assigned-identities",
        f"subscriptions/{sub}/resourceGroups/ml-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/"
        "team-b-identity",
        "--no-wait",
    )
    for compute in ("k8s-compute", "amlarc-compute"):
        shown = _wait_compute(demo, "ws1", compute)
        demo.check(
            f"attach {compute}",
            shown.properties.provisioningState == "Succeeded",
            f"identity {shown.identity['type']}",
        )
    principal = demo.json("ad", "sp", "list", "--display-name", "ws1/computes/k8s-compute")
    demo.check("S9 identity named ws1/computes/k8s-compute", len(principal) == 1)


def _wait_compute(demo: Narrator, workspace: str, name: str) -> ComputeAnswer:
    for _ in range(60):
        answer = demo.json("ml", "compute", "show", "-g", "ml-rg", "-w", workspace, "-n", name)
        shown = read_view(ComputeAnswer, answer, what=f"compute '{name}'")
        if shown.properties.provisioningState in ("Succeeded", "Failed"):
            break
        time.sleep(0.5)
    demo.tether(
        "ml",
        "compute",
        "show",
        "-g",
        "ml-rg",
        "-w",
        workspace,
        "-n",
        name,
        "--query",
        "{state: properties.provisioningState, namespace: properties.properties.namespace, "
        "identity: identity.type, principalId: identity.principalId || "
        "values(identity.userAssignedIdentities)[0].principalId}",
    )
    return shown


def attach_again(demo: Narrator, sub: str) -> None:
    """S4/S5: the managed cluster attached again, in ws1 for another team and in ws2 on a shared namespace."""
    demo.say("S4/S5: the same cluster attached again in ws1 (another team) and in ws2 (shared).")
    # --type in any case, as az takes it.
    attach_to_aks(demo, sub, workspace="ws1", name="team-b", namespace="team-b", compute_type="kubernetes")
    attach_to_aks(demo, sub, workspace="ws2", name="shared-aks", namespace="team-a", extra=("-i", "SystemAssigned"))
    demo.tether("ml", "compute", "list", "-g", "ml-rg", "-w", "ws1", "-o", "table")
    demo.check("multi-attach", True, "3 computes in ws1, 1 in ws2, 2 of them on aks-cluster's namespace team-a")


def attach_to_aks(
    demo: Narrator,
    sub: str,
    *,
    workspace: str,
    name: str,
    namespace: str,
    compute_type: str = "Kubernetes",
    extra: tuple[str, ...] = (),
) -> None:
    """``ml compute attach`` of the managed cluster's ``namespace`` as compute ``name``, with short options."""
    aks_id = (
        f"/subscriptions/{sub}/resourceGroups/ml-rg/providers/Microsoft.ContainerService/managedClusters/aks-cluster"
    )
    demo.tether(
        "ml",
        "compute",
        "attach",
        "-g",
        "ml-rg",
        "-w",
        workspace,
        "-t",
        compute_type,
        "-n",
        name,
        "--resource-id",
        aks_id,
        "--namespace",
        namespace,
        *extra,
        "-o",
        "none",
    )
