"""A container registry's stored state (``Microsoft.ContainerRegistry/registries``): ``RegistryRecord``.

All public. ``loginServer`` is ``127.0.0.1:<port>``, the port its login server listens on: the registry
host (``tether.registry.host``) serves each stored registry on that port again when the server restarts.
The other fields are constant (Tether has no admin user, no private network, no anonymous pull). The layout
on disk is the model's dump by alias, in field order, as the provider wrote it before the model existed.
"""

from __future__ import annotations

from pydantic import Field

from tether.domain.models.stored import StoredModel


class RegistryRecord(StoredModel):
    login_server: str = Field(alias="loginServer")
    admin_user_enabled: bool = Field(False, alias="adminUserEnabled")
    public_network_access: str = Field("Enabled", alias="publicNetworkAccess")
    anonymous_pull_enabled: bool = Field(False, alias="anonymousPullEnabled")

    @property
    def port(self) -> int:
        """The login server's port (``ValueError`` if the stored login server names none)."""
        return int(self.login_server.rsplit(":", 1)[-1])
