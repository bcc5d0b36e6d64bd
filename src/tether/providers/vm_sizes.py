"""``.../providers/Microsoft.MachineLearningServices/locations/{l}/vmSizes`` and ``/usages``: always empty.

``ml.compute.list_sizes`` and ``list_usage`` describe the virtual machine sizes Azure can provision for
AmlCompute clusters and compute instances in a region, and the quota used per VM family. Tether provisions
no virtual machines (its computes are attached Kubernetes clusters), so in every location there is no size
to offer and no quota to use: both lists are empty, in Azure's shape. An attached cluster's instance types
are not VM sizes; they are on each Kubernetes compute (``properties.properties.instanceTypes``), where
``ml.compute.get`` reads them (docs/azure-ai-ml.md).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

from tether.domain.ids import ResourceId
from tether.errors import InvalidRequest
from tether.providers.base import DeleteResult, Page, RequestContext, WriteResult

VM_SIZES = "Microsoft.MachineLearningServices/locations/vmSizes"
USAGES = "Microsoft.MachineLearningServices/locations/usages"


class _EmptyLocationList:
    """A read-only per-location list with nothing in it (see the module docstring for why)."""

    full_type: ClassVar[str]

    def _read_only(self) -> InvalidRequest:
        kind = self.full_type.rsplit("/", 1)[-1]
        return InvalidRequest(f"{kind} can only be listed (GET .../locations/<location>/{kind}).", code="InvalidAction")

    async def get(self, ctx: RequestContext, resource_id: ResourceId) -> dict[str, Any]:
        raise self._read_only()

    async def list(
        self, ctx: RequestContext, parent: ResourceId, *, offset: int, limit: int, params: Mapping[str, str]
    ) -> Page:
        return Page(items=[], more=False)

    async def put(self, ctx: RequestContext, resource_id: ResourceId, body: Any) -> WriteResult:
        raise self._read_only()

    async def delete(self, ctx: RequestContext, resource_id: ResourceId, *, params: Mapping[str, str]) -> DeleteResult:
        raise self._read_only()


class VmSizes(_EmptyLocationList):
    full_type: ClassVar[str] = VM_SIZES


class Usages(_EmptyLocationList):
    full_type: ClassVar[str] = USAGES
