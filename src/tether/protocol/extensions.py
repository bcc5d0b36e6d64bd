"""Wire models of cluster extensions (``Microsoft.KubernetesConfiguration/extensions``), and the ``properties``
ARM answers, derived from the stored model (``tether.domain.models.extensions``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from tether.domain.models.extensions import ClusterExtensionRecord
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


def extension_properties(record: ClusterExtensionRecord, *, provisioning_state: str) -> dict[str, Any]:
    """The extension's ARM ``properties``: spec and state, never the private part. Protected settings are
    write-only: their names show, never their values."""
    spec = record.spec.to_stored()
    spec["configurationProtectedSettings"] = {name: "" for name in record.spec.configuration_protected_settings}
    return {**spec, **record.state.to_stored(), "provisioningState": provisioning_state}
