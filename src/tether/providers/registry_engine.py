"""What the registries provider needs of the registry side (``tether.registry.host.RegistryHost``), injected."""

from __future__ import annotations

from typing import Protocol

from tether.domain.ids import ResourceId


class RegistryEngine(Protocol):
    async def serve(self, resource_id: ResourceId, *, port: int = 0) -> str:
        """Serve the registry's login server; its ``host:port``. Raises ``Unavailable`` if it cannot be served."""

    async def remove(self, name: str) -> None:
        """Stop serving a registry and delete its repositories."""
