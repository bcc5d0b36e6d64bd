"""Which flow a request of the real server joins: its verified principal, or its source address."""

from __future__ import annotations

import dataclasses
import uuid

from starlette.types import Scope

from tether.api.admission import Flow, flow_by_principal
from tether.testing.server import InProcessServer


def request_from(source: str, authorization: str | None = None) -> Scope:
    headers = [(b"authorization", authorization.encode())] if authorization else []
    return {"type": "http", "headers": headers, "client": (source, 40000)}


async def test_a_verified_token_puts_a_request_in_its_principals_flow_wherever_it_comes_from(
    server: InProcessServer,
) -> None:
    flow_of = flow_by_principal(server.services.tokens)
    admin = server.admin()
    other = dataclasses.replace(admin, object_id=str(uuid.uuid4()))

    from_one = await flow_of(request_from("127.0.0.1", f"Bearer {server.token_for(admin)}"))
    from_another = await flow_of(request_from("127.0.0.2", f"Bearer {server.token_for(admin)}"))
    someone_else = await flow_of(request_from("127.0.0.1", f"Bearer {server.token_for(other)}"))

    assert from_one.key == from_another.key == f"{admin.tenant_id}/{admin.object_id}"
    assert [f.caller.object_id for f in (from_one, from_another) if f.caller] == [admin.object_id] * 2
    assert someone_else.key == f"{other.tenant_id}/{other.object_id}"
    assert someone_else.caller is not None
    assert someone_else.caller.object_id == other.object_id


async def test_a_request_without_a_valid_token_joins_its_source_addresses_flow(server: InProcessServer) -> None:
    flow_of = flow_by_principal(server.services.tokens)
    forged = server.token_for(server.admin())[:-4] + "AAAA"

    assert await flow_of(request_from("127.0.0.1")) == Flow(key="127.0.0.1")
    assert await flow_of(request_from("127.0.0.1", f"Bearer {forged}")) == Flow(key="127.0.0.1")
    assert await flow_of(request_from("127.0.0.1", "Basic dXNlcjpwYXNz")) == Flow(key="127.0.0.1")
