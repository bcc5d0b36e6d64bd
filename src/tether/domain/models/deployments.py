"""An ARM template deployment's stored state (``Microsoft.Resources/deployments``): ``DeploymentRecord``.

Public: the correlation id ARM answers (and the deployment operations' tracking id), the parameters as
deployed (``{name: {"value": ...}}``) and the ids of the resources it created, in creation order (the
default storage account, then the workspace). Private: the id of the workspace's create operation, whose
status is the deployment's state (``tether.providers.deployments``); never answered.

On disk the layout predates this model and is kept (no migration): the four keys side by side at the top
level, ``operationId`` null when the PUT started no operation. ``from_stored``/``to_stored`` translate.
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import Field

from tether.domain.models.stored import StoredModel


class DeploymentPrivate(StoredModel):
    """The server's own state of a deployment; never answered."""

    #: The workspace's create operation (None: the PUT updated a workspace in place, nothing to wait for).
    operation_id: str | None = Field(None, alias="operationId")


class DeploymentRecord(StoredModel):
    correlation_id: str = Field(alias="correlationId")
    parameters: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: The resources the deployment created, in creation order.
    deployed: list[str] = Field(default_factory=list)
    private: DeploymentPrivate = Field(default_factory=DeploymentPrivate)

    @classmethod
    def from_stored(cls, properties: dict[str, Any]) -> Self:
        public = {k: v for k, v in properties.items() if k != "operationId"}
        return cls.model_validate({**public, "private": {"operationId": properties.get("operationId")}})

    def to_stored(self) -> dict[str, Any]:
        public = self.model_dump(mode="json", by_alias=True, exclude={"private"})
        return {**self.private.to_stored(), **public}
