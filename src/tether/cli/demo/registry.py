"""The demo's registry step (S15): the locally built image in a Tether registry, pulled by the compute identity.

A registry in ml-rg; the base image the local cluster built is pushed into it with ``tether acr
import`` (skopeo, with the admin's token); the managed cluster's real node is told to trust the login
server (``tether local-cluster trust-registry``: containerd's ``certs.d``). k8s-compute's identity is
granted AcrPull and its job's pod pulls the image with the pull secret the operator wrote from that
identity's own token. Then a compute whose identity has no grant fails at dispatch, naming the fix.
"""

from __future__ import annotations

from pathlib import Path

import click

from tether.cli.demo.attach import attach_to_aks
from tether.cli.demo.jobs import base_image, create_job
from tether.cli.demo.narrator import Narrator
from tether.client.views import read_view
from tether.protocol.answers import JobAnswer, RegistryAnswer
from tether.server_process import ServerProcess

REGISTRY = "demoregistry"
PRINT_COMMAND = "python3 -c 'print(\"running the image pulled from the registry\")'"


def run_job_from_registry(demo: Narrator, server: ServerProcess, sub: str, *, aks_state: Path) -> None:
    demo.say("S15: a container registry; the locally built base image is imported into it (skopeo, no engine).")
    demo.tether("acr", "create", "-n", REGISTRY, "-g", "ml-rg", "-o", "none")
    registry = read_view(RegistryAnswer, demo.json("acr", "show", "-n", REGISTRY), what=REGISTRY)
    login = registry.properties.loginServer
    demo.tether("acr", "import", "-n", REGISTRY, "--source", base_image(demo), "--image", "ml/base:v1")
    demo.tether("acr", "repository", "list", "-n", REGISTRY, "-o", "tsv")
    demo.say(
        "The real node trusts the login server's certificate (containerd certs.d; every other registry is closed)."
    )
    demo.tether(
        "local-cluster", "trust-registry", login, "--ca-file", server.ca_file,
        "--name", "demo-aks", "--state-dir", str(aks_state),
    )  # fmt: skip
    compute = demo.json("ml", "compute", "show", "-g", "ml-rg", "-w", "ws1", "-n", "k8s-compute")
    demo.tether(
        "role", "assignment", "create", "--assignee-object-id", compute["identity"]["principalId"],
        "--role", "AcrPull", "--scope", registry.id, "-o", "none",
    )  # fmt: skip
    image = f"{login}/ml/base:v1"
    demo.say(f"A job on k8s-compute with image {image}: its pod pulls it with the compute identity's token.")
    create_job(demo, "k8s-compute", "registry-job", timeout_s=300, command=PRINT_COMMAND, image=image)
    job = read_view(
        JobAnswer, demo.json("ml", "job", "show", "-g", "ml-rg", "-w", "ws1", "-n", "registry-job"), what="registry-job"
    )
    log = demo.tether("ml", "job", "stream", "-g", "ml-rg", "-w", "ws1", "-n", "registry-job")
    demo.check(
        "job pulls its image with AcrPull (S15)",
        job.properties.status == "Completed" and "pulled from the registry" in log,
        image,
    )

    demo.say("A compute whose identity has no AcrPull on the registry: its job fails at dispatch, with the fix.")
    attach_to_aks(
        demo, sub, workspace="ws1", name="no-acr", namespace="team-a", extra=("--identity-type", "SystemAssigned")
    )
    create_job(demo, "no-acr", "no-pull-job", timeout_s=60, expect_failure=True, command=PRINT_COMMAND, image=image)
    failed = read_view(
        JobAnswer, demo.json("ml", "job", "show", "-g", "ml-rg", "-w", "ws1", "-n", "no-pull-job"), what="no-pull-job"
    )
    error = failed.properties.error
    click.echo(f"  ({error.get('code')}) {error.get('message')}")
    demo.check(
        "no AcrPull fails fast with the fix",
        error.get("code") == "AuthorizationFailed" and "tether role assignment create" in str(error.get("message")),
    )
