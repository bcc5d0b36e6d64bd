"""Which ARM template deployments Tether carries out: only the workspace template of ``azure-ai-ml``.

``ml.workspaces.begin_create`` does not PUT a workspace: it deploys an ARM template
(``azure/ai/ml/_arm_deployments/arm_templates/workspace_base.json``) with parameters filled in by the
SDK. Tether has no template engine. It recognises that one template by its shape (one
``Microsoft.MachineLearningServices/workspaces`` resource named ``[parameters('workspaceName')]`` among
the SDK template's conditional dependencies, and the parameters the SDK fills) and turns the
parameters into the workspace request Tether serves anyway. Anything else is refused, naming what is
supported.

What the template would also deploy is not created: a new key vault, application insights and log
analytics workspace (Tether has none of these types; the SDK always asks for them) are left out, and
the workspace's default storage is the one Tether creates with every workspace rather than the account
the SDK named. Parameters asking for what Tether cannot honour (another workspace kind, encryption with
a customer key, private endpoints, network isolation, an existing key vault, application insights or
container registry) are refused rather than dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from tether.domain import resource_types as rt
from tether.errors import InvalidRequest

DEPLOYMENTS = rt.DEPLOYMENTS
DEPLOYMENT_OPERATIONS = f"{rt.DEPLOYMENTS}/operations"

# ARM: 1-64 characters, alphanumerics, underscores, parentheses, hyphens and periods.
_DEPLOYMENT_NAME = re.compile(r"^[-\w._()]{1,64}$")

# Every resource type the SDK's workspace template may deploy (most behind conditions that are false
# for a default workspace); a template naming any other type is not the SDK's.
_SDK_TEMPLATE_TYPES = {
    t.lower()
    for t in (
        rt.WORKSPACES,
        rt.STORAGE_ACCOUNTS,
        rt.BLOB_CONTAINERS,
        rt.USER_ASSIGNED_IDENTITIES,
        DEPLOYMENTS,
        "Microsoft.Network/virtualNetworks",
        "Microsoft.Network/virtualNetworks/subnets",
        "Microsoft.KeyVault/vaults",
        "Microsoft.OperationalInsights/workspaces",
        "Microsoft.Insights/components",
    )
}
_REQUIRED_PARAMETERS = ("workspaceName", "location", "resourceGroupName", "kind", "identity", "storageAccountOption")
_WORKSPACE_RESOURCE_NAME = "[parameters('workspaceName')]"

SUPPORTED = (
    "Tether deploys one ARM template: the workspace template azure-ai-ml's ml.workspaces.begin_create "
    "sends (one Microsoft.MachineLearningServices/workspaces resource named [parameters('workspaceName')]). "
    "Create other resources with their own PUT (tether ml workspace create, tether storage account create, ...)."
)

# Parameter → the only value(s) Tether can honour (compared case-insensitively; None/'' pass too), and why.
_MUST_BE: dict[str, tuple[tuple[str, ...], str]] = {
    "kind": (("default",), "only the Default workspace kind is served (no hub, project or feature store)"),
    "encryption_status": (("disabled",), "customer-managed key encryption is not supported"),
    "confidential_data": (("false",), "high business impact (confidential data) workspaces are not supported"),
    "privateEndpointType": (("none",), "private endpoints are not supported"),
    "publicNetworkAccess": (("enabled",), "Tether has no network isolation; public network access stays Enabled"),
    "keyVaultOption": (("new", "none"), "Tether serves no key vaults, so an existing one cannot be used"),
    "applicationInsightsOption": (("new", "none"), "Tether serves no application insights"),
    "containerRegistryOption": (("none",), "a workspace container registry cannot be set in the template"),
}


@dataclass(frozen=True)
class WorkspaceDeployment:
    """What the SDK's template asks for, as the workspace PUT body Tether serves."""

    workspace_name: str
    workspace_body: dict[str, Any]
    parameters: dict[str, Any]  # name → value, as sent


def validate_deployment_name(name: str) -> str:
    if not _DEPLOYMENT_NAME.fullmatch(name):
        raise InvalidRequest(
            f"'{name}' is not a valid deployment name: use 1-64 letters, digits, '_', '-', '.', '(' and ')'.",
            code="InvalidDeploymentName",
            target="name",
        )
    return name


def _refuse(problem: str, *, code: str = "InvalidTemplate", target: str | None = None) -> InvalidRequest:
    return InvalidRequest(f"{problem} {SUPPORTED}", code=code, target=target)


class _DeploymentBody(BaseModel):
    """The request's envelope: only ``properties`` is read here (its members are checked one by one below)."""

    model_config = ConfigDict(extra="allow")
    properties: dict[str, Any]


def _template(body: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """The deployment's template and its parameter values, or a refusal."""
    try:
        properties = _DeploymentBody.model_validate(body).properties
    except ValidationError as e:
        raise InvalidRequest("A deployment needs a 'properties' object.", code="InvalidRequestContent") from e
    if properties.get("templateLink") or properties.get("parametersLink"):
        raise _refuse("Templates and parameters given by link are not fetched.", target="properties.templateLink")
    mode = properties.get("mode", "Incremental")
    if not isinstance(mode, str) or mode.lower() != "incremental":
        raise _refuse(
            f"Deployment mode '{mode}' is not supported: only Incremental (Complete would delete resources).",
            code="InvalidDeploymentMode",
            target="properties.mode",
        )
    template = properties.get("template")
    if not isinstance(template, dict) or not isinstance(template.get("resources"), list):
        raise _refuse("The deployment has no template with a 'resources' list.", target="properties.template")
    given = properties.get("parameters") or {}
    if not isinstance(given, dict):
        raise InvalidRequest("properties.parameters must be an object.", code="InvalidRequestContent")
    values: dict[str, Any] = {}
    for key, entry in given.items():
        if not isinstance(entry, dict) or "reference" in entry:
            raise _refuse(
                f"Parameter '{key}' must be given as {{\"value\": ...}}.", target=f"properties.parameters.{key}"
            )
        values[key] = entry.get("value")
    return template, values


def _is_workspace_template(template: dict[str, Any]) -> bool:
    resources = template["resources"]
    if not all(isinstance(r, dict) and isinstance(r.get("type"), str) for r in resources):
        return False
    if any(r["type"].lower() not in _SDK_TEMPLATE_TYPES for r in resources):
        return False
    workspaces = [r for r in resources if r["type"].lower() == rt.WORKSPACES.lower()]
    declared = template.get("parameters")
    return (
        len(workspaces) == 1
        and workspaces[0].get("name") == _WORKSPACE_RESOURCE_NAME
        and isinstance(declared, dict)
        and all(p in declared for p in _REQUIRED_PARAMETERS)
    )


def _text(values: dict[str, Any], key: str) -> str | None:
    value = values.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise _refuse(f"Parameter '{key}' must be a string.", target=f"properties.parameters.{key}")
    return value


def _check_honourable(values: dict[str, Any]) -> None:
    for key, (allowed, why) in _MUST_BE.items():
        value = _text(values, key)
        if value is not None and value.lower() not in allowed:
            raise _refuse(
                f"Parameter {key}='{value}' cannot be honoured: {why}.",
                code="InvalidTemplateDeployment",
                target=f"properties.parameters.{key}",
            )
    network = values.get("managedNetwork") or {}
    isolation = network.get("isolationMode") if isinstance(network, dict) else None
    if isolation not in (None, "", "Disabled"):
        raise _refuse(
            f"managedNetwork.isolationMode '{isolation}' cannot be honoured: Tether has no managed network.",
            code="InvalidTemplateDeployment",
            target="properties.parameters.managedNetwork",
        )


def _storage_account(values: dict[str, Any], *, subscription_id: str) -> str | None:
    """The existing storage account named, or None for Tether's own default storage."""
    if (_text(values, "storageAccountOption") or "new").lower() != "existing":
        return None
    name, group = _text(values, "storageAccountName"), _text(values, "storageAccountResourceGroupName")
    if not name or not group:
        raise _refuse(
            "storageAccountOption 'existing' needs storageAccountName and storageAccountResourceGroupName.",
            code="InvalidTemplateDeployment",
        )
    subscription = _text(values, "storageAccountSubscriptionId") or subscription_id
    return f"/subscriptions/{subscription}/resourceGroups/{group}/providers/{rt.STORAGE_ACCOUNTS}/{name}"


def workspace_deployment(body: Any, *, subscription_id: str, resource_group: str) -> WorkspaceDeployment:
    """Recognise the SDK's workspace template in a deployment body and translate it, or refuse."""
    template, values = _template(body)
    if not _is_workspace_template(template):
        kinds = sorted({str(r.get("type")) for r in template["resources"] if isinstance(r, dict)})
        raise _refuse(
            f"This template ({', '.join(kinds) or 'no resources'}) is not that template.",
            code="InvalidTemplate",
            target="properties.template",
        )
    _check_honourable(values)
    name = _text(values, "workspaceName")
    if name is None:
        raise _refuse("Parameter 'workspaceName' is missing.", code="InvalidTemplateDeployment")
    group = _text(values, "resourceGroupName")
    if group is not None and group.lower() != resource_group.lower():
        raise _refuse(
            f"resourceGroupName '{group}' differs from the deployment's resource group '{resource_group}'.",
            code="InvalidTemplateDeployment",
            target="properties.parameters.resourceGroupName",
        )
    tags = values.get("tagValues") or {}
    identity = values.get("identity") or None
    if isinstance(identity, dict):  # the SDK's serialized identity; read-only fields (principalId) dropped
        identity = {k: v for k, v in identity.items() if k in ("type", "userAssignedIdentities")}
    properties: dict[str, Any] = {
        "friendlyName": _text(values, "friendlyName"),
        "description": _text(values, "description"),
        "primaryUserAssignedIdentity": _text(values, "primaryUserAssignedIdentity"),
        "storageAccount": _storage_account(values, subscription_id=subscription_id),
    }
    workspace_body = {
        "location": _text(values, "location"),
        "tags": tags,
        "identity": identity,
        "properties": {k: v for k, v in properties.items() if v is not None},
    }
    return WorkspaceDeployment(name, {k: v for k, v in workspace_body.items() if v is not None}, values)
