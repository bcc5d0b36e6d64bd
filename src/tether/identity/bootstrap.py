"""First start: a tenant, a default subscription and an admin service principal, written to bootstrap.json.

The file (mode 0600) is what ``tether login --bootstrap DIR`` reads. A later start finds the tenant
already in the store and only rewrites the file's server address if it changed.

Hazard: a file whose tenant the store does not know (a data directory pointed at another database, a
restored file) is refused with an error naming the file. It is never replaced silently: that would
create a second tenant, subscription and Owner and throw away the only copy of the old admin secret.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path

from tether.domain.principals import PrincipalKind
from tether.domain.roles import OWNER
from tether.errors import StartupError
from tether.store import Store, principals, role_assignments, tenancy

ADMIN_NAME = "tether-admin"
_SECRET_LIFETIME = dt.timedelta(days=365)


@dataclass(frozen=True)
class Bootstrap:
    server: str
    ca_file: str
    tenant_id: str
    subscription_id: str
    client_id: str
    client_secret: str
    admin_object_id: str


def _write(path: Path, info: Bootstrap) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(asdict(info), f, indent=2)
    os.chmod(path, 0o600)


def _read(path: Path) -> Bootstrap:
    try:
        document = json.loads(path.read_text())
        return Bootstrap(**document)
    except (OSError, UnicodeDecodeError, ValueError, TypeError) as e:
        raise StartupError(
            f"{path} cannot be read as a bootstrap file ({type(e).__name__}: {e}). Restore it from a backup, "
            "or move it away to bootstrap a new tenant and admin."
        ) from e


async def ensure_bootstrap(store: Store, *, path: Path, server: str, ca_file: Path) -> Bootstrap:
    """Read the bootstrap from ``path`` if the store knows its tenant; otherwise create it."""
    if path.exists():
        info = _read(path)
        async with store.transaction() as session:
            known = await tenancy.get_tenant(session, info.tenant_id) is not None
        if not known:
            raise StartupError(
                f"{path} names tenant '{info.tenant_id}', which this server's store does not have: the file belongs "
                "to another store. Start with the database it belongs to (--db-url), or move the file away to "
                "bootstrap a new tenant and admin (the old admin secret in it will not work on this store)."
            )
        if info.server != server or info.ca_file != str(ca_file):
            info = Bootstrap(**{**asdict(info), "server": server, "ca_file": str(ca_file)})
            _write(path, info)
        return info
    tenant_id, subscription_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with store.transaction() as session:
        await tenancy.create_tenant(session, tenant_id=tenant_id, display_name="Tether")
        await tenancy.create_subscription(
            session, subscription_id=subscription_id, tenant_id=tenant_id, display_name="Default"
        )
        admin = await principals.create(
            session, tenant_id=tenant_id, kind=PrincipalKind.SERVICE_PRINCIPAL.value, display_name=ADMIN_NAME
        )
        secret = await principals.add_secret(session, admin.object_id, lifetime=_SECRET_LIFETIME)
        scope = f"/subscriptions/{subscription_id}"
        name = str(uuid.uuid5(uuid.NAMESPACE_URL, f"{scope}/owner/{admin.object_id}"))
        await role_assignments.create(
            session,
            assignment_id=f"{scope}/providers/Microsoft.Authorization/roleAssignments/{name}",
            name=name,
            subscription_id=subscription_id,
            scope=scope,
            principal_id=admin.object_id,
            principal_type="ServicePrincipal",
            role_definition_guid=OWNER.guid,
            description="The bootstrap admin owns the default subscription.",
            created_by=admin.object_id,
        )
    info = Bootstrap(
        server=server,
        ca_file=str(ca_file),
        tenant_id=tenant_id,
        subscription_id=subscription_id,
        client_id=admin.app_id,
        client_secret=secret,
        admin_object_id=admin.object_id,
    )
    _write(path, info)
    return info
