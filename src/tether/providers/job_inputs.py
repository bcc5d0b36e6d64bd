"""What a command job's body refers to, resolved when the job is created: its image, code, outputs, limits.

- ``environmentId`` (an environment version's ARM id, or ``azureml:<name>:<version>``) → the version's image;
  Tether's own ``environment.image`` is taken as it is.
- ``codeId`` → the code version's snapshot (account, container, prefix), which the pods download.
- ``outputs`` of folder/file/model types get their default location, as Azure ML's:
  ``azureml://datastores/workspaceblobstore/paths/azureml/<job>/<output>/``; the pods upload what the
  command wrote to ``${{outputs.<name>}}`` there.
- ``limits.timeout`` (ISO 8601 duration) → seconds, enforced as the pods' ``activeDeadlineSeconds``.
- ``identity``: the pods act as the compute's identity; ``Managed`` (or none) is that, anything else is refused.
- ``resources.instanceType`` must be one of the compute's instance types.

Every refusal is a 400 ``UserError`` (or 404 for a missing asset) naming the field; nothing is written.
"""

from __future__ import annotations

import re

from tether.domain import resource_types as rt
from tether.domain.ids import ResourceId, parse_resource_id
from tether.domain.models.assets import AssetContainerRecord, CodeVersionRecord, EnvironmentVersionRecord
from tether.domain.models.computes import ComputeRecord
from tether.domain.models.extensions import ClusterExtensionRecord
from tether.domain.models.jobs import CodeSnapshot, JobOutput, JobSpec
from tether.domain.resources import Resource
from tether.errors import InvalidRequest, NotFound
from tether.store import Session, resources

OUTPUT_ROOT = "/tether/outputs"
_FOLDER_OUTPUTS = {"uri_folder", "uri_file", "mlflow_model", "custom_model", "triton_model"}
_OUTPUT_NAME = re.compile(r"^[A-Za-z0-9_]{1,255}$")
_DURATION = re.compile(r"^P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+(?:\.\d+)?)S)?)?$")
_LATEST = "@latest"  # not a valid version name, so it cannot clash with one
_REFERENCE = re.compile(r"\$\{\{\s*(inputs|outputs)\.([A-Za-z0-9_]+)\s*\}\}")


def _asset_id(workspace_id: ResourceId, text: str, *, kind: str, field: str) -> ResourceId:
    """An asset version's id from ``azureml:<name>:<version>``, ``<name>:<version>`` or its ARM id."""
    if text.startswith("azureml://"):
        raise InvalidRequest(
            f"{field} '{text}' is in a registry; Tether has no registries of {kind}s: create the {kind} in the "
            "workspace (for an environment: Environment(image=...)).",
            code="UserError",
            target=f"properties.{field}",
        )
    if "/" in text:
        asset_id = parse_resource_id(text)
        parent = asset_id.parent
        workspace = parent.parent if parent is not None else None
        if (
            workspace is None
            or workspace.key != workspace_id.key
            or not asset_id.full_type.endswith(f"{kind}s/versions")
        ):
            raise InvalidRequest(
                f"{field} '{text}' is not a {kind} version of this workspace.",
                code="UserError",
                target=f"properties.{field}",
            )
        return asset_id
    name, _, version = text.removeprefix("azureml:").partition(":")
    if name.endswith("@latest") and not version:
        return workspace_id.child(f"{kind}s", name.removesuffix("@latest")).child("versions", _LATEST)
    if not name or not version:
        raise InvalidRequest(
            f"{field} '{text}' needs a version: azureml:<name>:<version>.",
            code="UserError",
            target=f"properties.{field}",
        )
    return workspace_id.child(f"{kind}s", name).child("versions", version)


async def _asset(session: Session, asset_id: ResourceId, *, kind: str, field: str) -> Resource:
    if asset_id.name == _LATEST and asset_id.parent is not None:  # <name>@latest: the container's latest version
        container = await resources.get(session, asset_id.parent)
        latest = (
            resources.read_properties(container, AssetContainerRecord).latest_version if container is not None else None
        )
        asset_id = asset_id.parent.child("versions", str(latest)) if latest else asset_id
    row = await resources.get(session, asset_id)
    if row is None:
        assert asset_id.parent is not None
        raise NotFound(
            f"The {kind} '{asset_id.parent.name}' version '{asset_id.name}' ({field}) could not be found in this "
            "workspace.",
            code="UserError",
            target=f"properties.{field}",
        )
    return row


async def resolve_image(session: Session, workspace_id: ResourceId, request: JobSpec) -> str:
    if request.environment is not None:
        return request.environment.image
    if request.environmentId is None:
        raise InvalidRequest(
            "The job needs an environment: environmentId (an environment version holding an image) or "
            "environment: {image: <image>}.",
            code="InvalidEnvironment",
            target="properties.environmentId",
        )
    asset_id = _asset_id(workspace_id, request.environmentId, kind="environment", field="environmentId")
    row = await _asset(session, asset_id, kind="environment", field="environmentId")
    return resources.read_properties(row, EnvironmentVersionRecord).image


async def resolve_code(session: Session, workspace_id: ResourceId, request: JobSpec) -> CodeSnapshot | None:
    if request.codeId is None:
        return None
    asset_id = _asset_id(workspace_id, request.codeId, kind="code", field="codeId")
    row = await _asset(session, asset_id, kind="code", field="codeId")
    return resources.read_properties(row, CodeVersionRecord).snapshot


def output_uri(job_name: str, output: str) -> str:
    return f"azureml://datastores/workspaceblobstore/paths/azureml/{job_name}/{output}/"


def resolve_outputs(job_name: str, request: JobSpec) -> dict[str, JobOutput]:
    """The outputs as stored (default locations filled in); refuses names and types Tether cannot deliver."""
    resolved: dict[str, JobOutput] = {}
    for name, output in request.outputs.items():
        if not _OUTPUT_NAME.fullmatch(name):
            raise InvalidRequest(
                f"Output name '{name}' is invalid: use letters, digits and '_'.",
                code="UserError",
                target=f"properties.outputs.{name}",
            )
        if output.jobOutputType.lower() in _FOLDER_OUTPUTS:
            if output.uri and output.uri != output_uri(job_name, name):
                raise InvalidRequest(
                    f"Output '{name}' names its own location ({output.uri}); Tether writes outputs to their default "
                    f"location ({output_uri(job_name, name)}): leave path out.",
                    code="UserError",
                    target=f"properties.outputs.{name}.uri",
                )
            output = output.model_copy(
                update={"uri": output_uri(job_name, name), "mode": output.mode or "ReadWriteMount"}
            )
        resolved[name] = output
    return resolved


def command_for_pods(request: JobSpec) -> str:
    """The command with ``${{outputs.<name>}}`` and literal ``${{inputs.<name>}}`` filled in, as Azure ML does."""

    def fill(match: re.Match[str]) -> str:
        kind, name = match.group(1), match.group(2)
        if kind == "outputs":
            if name not in request.outputs:
                raise InvalidRequest(
                    f"The command uses ${{{{outputs.{name}}}}} but the job has no output '{name}'.",
                    code="UserError",
                    target="properties.command",
                )
            return f"{OUTPUT_ROOT}/{name}"
        given = request.inputs.get(name)
        if given is None or given.jobInputType.lower() != "literal" or given.value is None:
            raise InvalidRequest(
                f"The command uses ${{{{inputs.{name}}}}}, but Tether delivers only literal inputs (values), and "
                f"input '{name}' is {'missing' if given is None else given.jobInputType}.",
                code="UserError",
                target=f"properties.inputs.{name}",
            )
        return given.value

    return _REFERENCE.sub(fill, request.command)


def timeout_seconds(request: JobSpec) -> int | None:
    text = request.limits.timeout if request.limits else None
    if not text:
        return None
    match = _DURATION.fullmatch(text)
    if match is None or not any(match.groups()):
        raise InvalidRequest(
            f"limits.timeout '{text}' is not an ISO 8601 duration such as PT1H30M.",
            code="UserError",
            target="properties.limits.timeout",
        )
    days, hours, minutes, seconds = (float(g) if g else 0.0 for g in match.groups())
    total = int(days * 86400 + hours * 3600 + minutes * 60 + seconds)
    if total < 1:
        raise InvalidRequest(
            "limits.timeout must be at least one second.", code="UserError", target="properties.limits.timeout"
        )
    return total


def check_identity(request: JobSpec, compute: Resource) -> None:
    identity = request.identity
    if identity is None or identity.identityType.lower() == "managed":
        if identity is not None and (identity.clientId or identity.objectId or identity.resourceId):
            raise InvalidRequest(
                "The job names a managed identity; its pods act as the compute's identity "
                f"(compute '{compute.name}'): leave the identity's client id, object id and resource id out.",
                code="UserError",
                target="properties.identity",
            )
        return
    raise InvalidRequest(
        f"identityType '{identity.identityType}' is not supported: a job's pods act as the compute's managed identity "
        "(identity=ManagedIdentityConfiguration(), or no identity).",
        code="UserError",
        target="properties.identity.identityType",
    )


def check_instance_type(request: JobSpec, compute: Resource, known: set[str]) -> None:
    """Refuse an instance type the compute's cluster does not have (``known`` empty: not reported yet)."""
    wanted = request.resources.instanceType
    if not wanted or not known or wanted.lower() in {k.lower() for k in known}:
        return
    raise InvalidRequest(
        f"Instance type '{wanted}' is not found in compute '{compute.name}'. Its cluster has: "
        f"{', '.join(sorted(known))}. Create it in the cluster (kubectl apply an InstanceType) or pick one of those.",
        code="UserError",
        target="properties.resources.instanceType",
    )


async def known_instance_types(session: Session, compute: Resource) -> set[str]:
    """The compute's instance types: what attach recorded, plus what the cluster's ML extension reports now."""
    record = resources.read_properties(compute, ComputeRecord)
    known = set((record.state.attached.instance_types or {}) if record.state.attached else {})
    cluster_id = parse_resource_id(record.spec.resource_id)
    for extension in await resources.list_children(session, cluster_id, rt.EXTENSIONS):
        known |= set(resources.read_properties(extension, ClusterExtensionRecord).state.instance_types or {})
    return known
