"""Wire shape of ARM template deployments (``Microsoft.Resources/deployments``): their answered ``properties``.

The request is parsed in ``tether.domain.deployments`` (only azure-ai-ml's workspace template is served).
"""

from __future__ import annotations

from typing import Any

from tether.domain.models.deployments import DeploymentRecord


def deployment_properties(
    record: DeploymentRecord, *, state: str, timestamp: str, duration: str, error: dict[str, Any] | None
) -> dict[str, Any]:
    """The deployment's ARM ``properties`` (never its private part): ``state``, ``timestamp``, ``duration``
    and ``error`` are its progress, read from its workspace's create operation by the provider."""
    properties: dict[str, Any] = {
        "provisioningState": state,
        "timestamp": timestamp,
        "duration": duration,
        "correlationId": record.correlation_id,
        "mode": "Incremental",
        "parameters": record.parameters,
        "outputs": {},
        "outputResources": [{"id": r} for r in record.deployed] if state == "Succeeded" else [],
        "providers": [{"namespace": "Microsoft.MachineLearningServices", "resourceTypes": []}],
        "dependencies": [],
    }
    if error:
        properties["error"] = error
    return properties
