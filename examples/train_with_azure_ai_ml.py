# %% [markdown]
# # Train on an attached Kubernetes cluster with the unmodified azure-ai-ml SDK
#
# The same code a data scientist runs against Azure Machine Learning, pointed at a Tether server:
# create a workspace, attach a cluster as a compute target (with an instance type), submit a command
# job with local code, stream its log, download its output, archive it. What each call does in Tether,
# and what it refuses: docs/azure-ai-ml.md.
#
# Before running it (README "Using it"): a `tether server`, a resource group, a registered cluster with
# the ML extension (`tether aks create` + `tether k8s-extension create ...`). Then set:
#
#   TETHER_BOOTSTRAP   the server's DIR/bootstrap.json (server URL, tenant, admin client id and secret,
#                      subscription); or log in with your own service principal below
#   TETHER_CA          the server's CA certificate (DIR/ca.pem)
#   TETHER_CLUSTER_ID  the registered cluster's resource id (managedClusters or connectedClusters)
#   TETHER_GROUP, TETHER_WORKSPACE   the resource group, and the workspace to create in it
#   TETHER_IMAGE       the job's image (on Tether's local cluster: the first line of
#                      `tether local-cluster images`, already on the real node; no registry is contacted)
#
# Cells are separated by `# %%`; run them one by one in an editor that understands them, or the whole
# file with `python examples/train_with_azure_ai_ml.py`. Set TETHER_EXAMPLE_STOP=attach to stop after
# the compute is attached (the job cells need the job loop of docs/azure-ai-ml.md "Jobs").

# %% Point the SDK at the server (before importing azure.ai.ml: it reads its cloud at import time)
import json
import os
import sys
import tempfile
from pathlib import Path

bootstrap = json.loads(Path(os.environ["TETHER_BOOTSTRAP"]).read_text())
server = bootstrap["server"].rstrip("/")
os.environ.setdefault("ARM_CLOUD_METADATA_URL", f"{server}/metadata/endpoints?api-version=2019-05-01")
if "TETHER_CA" in os.environ:
    os.environ["REQUESTS_CA_BUNDLE"] = os.environ["TETHER_CA"]

from azure.ai.ml import Input, MLClient, Output, command  # noqa: E402
from azure.ai.ml.entities import Environment, KubernetesCompute, Workspace  # noqa: E402
from azure.identity import ClientSecretCredential  # noqa: E402

group = os.environ.get("TETHER_GROUP", "rg")
workspace_name = os.environ.get("TETHER_WORKSPACE", "ws")
credential = ClientSecretCredential(
    bootstrap["tenant_id"],
    bootstrap["client_id"],
    bootstrap["client_secret"],
    authority=server,
    disable_instance_discovery=True,
)
ml = MLClient(credential, bootstrap["subscription_id"], group, cloud="Tether")

# %% Create the workspace (an ARM template deployment, as in Azure)
workspace = ml.workspaces.begin_create(
    Workspace(name=workspace_name, location="westeurope", description="trained with azure-ai-ml")
).result()
print("workspace:", workspace.name, workspace.location, workspace.storage_account)
ml = MLClient(credential, bootstrap["subscription_id"], group, workspace_name, cloud="Tether")

# %% Attach the cluster as a compute target, with an instance type of its own
# On Tether's local cluster, code runs on the real node, which carries this label (docs/local-cluster.md);
# on another cluster use your own node labels, or None.
small = {
    "nodeSelector": {"tether.dev/pod-network": "host"},
    "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
}
compute = ml.compute.begin_create_or_update(
    KubernetesCompute(
        name="k8s",
        resource_id=os.environ["TETHER_CLUSTER_ID"],
        namespace=os.environ.get("TETHER_NAMESPACE", "default"),
        properties={"instanceTypes": {"example-small": small}},
    )
).result()
# .result() returns once the attach has succeeded (a failed attach raises, with its error code).
print("compute:", compute.name, "attached, instance types", sorted(compute.properties["instanceTypes"]))
print("VM sizes to provision (none: Tether attaches clusters):", list(ml.compute.list_sizes()))

if os.environ.get("TETHER_EXAMPLE_STOP") == "attach":
    sys.exit(0)

# %% Submit a command job with local code
job = ml.jobs.create_or_update(
    command(
        code=str(Path(__file__).parent / "src"),
        command="python train.py --epochs ${{inputs.epochs}} --out ${{outputs.model}}",
        inputs={"epochs": Input(type="integer", default=3)},
        outputs={"model": Output(type="uri_folder")},
        environment=Environment(image=os.environ["TETHER_IMAGE"]),
        compute="k8s",
        instance_type="example-small",
        display_name="train",
    )
)
print("submitted:", job.name, job.status)

# %% Stream the training script's own output until the job ends
ml.jobs.stream(job.name)

# %% Download what the job wrote (into <target>/named-outputs/model/)
# The SDK reads the default datastore at https://<account>.blob.core.tether.localhost:<blob port>: that name must
# resolve to the server (a wildcard DNS record, or a line `127.0.0.1 <account>.blob.core.tether.localhost` in
# /etc/hosts; the account is ml.datastores.get_default().account_name). docs/storage.md, "URL form".
target = Path(tempfile.mkdtemp(prefix="tether-example-"))
ml.jobs.download(job.name, output_name="model", download_path=str(target))
print("downloaded:", sorted(str(p.relative_to(target)) for p in target.rglob("*") if p.is_file()))

# %% Archive the job
ml.jobs.archive(job.name)
print("archived:", ml.jobs.get(job.name).name)
