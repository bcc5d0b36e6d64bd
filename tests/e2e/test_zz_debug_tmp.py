import json
from tests.e2e.test_sdk_computes import setup, Setup  # noqa

def test_debug(setup: Setup) -> None:
    cli = setup.cli
    r = setup.sdk({"op": "attach", "name": "dbg", "resource_id": setup.cluster_id, "wait": True, "identity": "system_assigned"})
    print("ATTACH", r)
    print("SHOW1", cli.run("ml", "compute", "show", "-n", "dbg", "-g", "sdkc-rg", "-w", "sdkc-ws").stdout)
    r = setup.sdk({"op": "update", "name": "dbg", "identity": "user_assigned", "identity_id": setup.identity_id})
    print("UPDATE", r)
    print("SHOW2", cli.run("ml", "compute", "show", "-n", "dbg", "-g", "sdkc-rg", "-w", "sdkc-ws").stdout)
    r = cli.run("ml", "compute", "update", "-n", "dbg", "-g", "sdkc-rg", "-w", "sdkc-ws", "-i", "UserAssigned", "--user-assigned-identities", setup.identity_id, check=False)
    print("CLIUPDATE", r.stdout, r.stderr)
    print("LOG", (cli.server.data_dir / "server.log").read_text()[-6000:])
    assert False
