"""Wire models of cluster extensions (``Microsoft.KubernetesConfiguration/extensions``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tether.protocol.arm import StrictModel


class ClusterScope(StrictModel):
    releaseNamespace: str | None = Field(None, max_length=63)  # noqa: N815


class NamespaceScope(StrictModel):
    targetNamespace: str | None = Field(None, max_length=63)  # noqa: N815


class ExtensionScope(StrictModel):
    cluster: ClusterScope | None = None
    namespace: NamespaceScope | None = None


class ExtensionProperties(StrictModel):
    extensionType: str = Field(min_length=1, max_length=128)  # noqa: N815
    autoUpgradeMinorVersion: bool | None = None  # noqa: N815
    releaseTrain: str | None = Field(None, max_length=64)  # noqa: N815
    version: str | None = Field(None, max_length=64)
    scope: ExtensionScope | None = None
    configurationSettings: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    configurationProtectedSettings: dict[str, str] = Field(default_factory=dict)  # noqa: N815
    # Fields az and ARM echo back; accepted and ignored on input.
    provisioningState: str | None = None  # noqa: N815
    statuses: list[Any] | None = None


class CreateExtensionRequest(StrictModel):
    identity: dict[str, Any] | None = None
    properties: ExtensionProperties
