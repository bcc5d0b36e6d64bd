"""``tether acr import``: copy an image into a Tether registry with skopeo, for users without a container engine.

Sources: an OCI layout directory, an OCI or docker archive (tarball), an image the local cluster
built (``tether.local/base:py3.11-bookworm``, found in ``~/.cache/tether/images/current``), or any
source in skopeo's own transport syntax (``oci:...``, ``docker-archive:...``). skopeo pushes with a
temporary auth file holding the principal's registry refresh token (as ``tether acr login`` writes)
and trusts the profile's CA through a temporary certificate directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from tether.client import registries
from tether.client.core import TetherClient
from tether.client.errors import ClientError

_TRANSPORTS = ("oci:", "oci-archive:", "docker-archive:", "docker://", "dir:")


def local_images_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "tether" / "images" / "current"


def _is_oci_archive(path: Path) -> bool:
    with tarfile.open(path) as archive:
        return any(name.lstrip("./") == "oci-layout" for name in archive.getnames())


def skopeo_source(source: str) -> str:
    """The skopeo reference of ``source``; ClientError naming what is accepted when it is none of them."""
    if source.startswith(_TRANSPORTS):
        return source
    path = Path(source)
    if path.is_dir() and (path / "index.json").exists():
        return f"oci:{path}"
    if path.is_file():
        return f"{'oci-archive' if _is_oci_archive(path) else 'docker-archive'}:{path}"
    references = local_images_dir() / "references"
    if references.exists() and source in references.read_text().split():
        archive = local_images_dir() / f"{source.split(':')[0].rsplit('/', 1)[-1]}.tar"
        if archive.exists():
            return f"docker-archive:{archive}"
    raise ClientError(
        f"The import source '{source}' is not an OCI layout directory, an image archive, nor an image the local "
        f"cluster built (those are listed in {references}). Pass a path, or a skopeo reference such as oci:DIR.",
        code="InvalidImportSource",
        status=400,
    )


def import_image(client: TetherClient, login_server: str, *, source: str, image: str) -> None:
    skopeo = shutil.which("skopeo")
    if skopeo is None:
        raise ClientError(
            "tether acr import needs skopeo: install it with tools/registry/install.sh (apt-get install skopeo).",
            code="ToolMissing",
        )
    reference = skopeo_source(source)
    refresh = registries.refresh_token(client, login_server)
    with tempfile.TemporaryDirectory(prefix="tether-acr-import-") as scratch:
        auth_file = Path(scratch) / "auth.json"
        registries.write_docker_config(auth_file, login_server, refresh)
        certs = Path(scratch) / "certs"
        certs.mkdir()
        if client.profile.ca_file:
            shutil.copyfile(client.profile.ca_file, certs / "ca.crt")
        command = [skopeo, "copy", "--quiet", "--dest-authfile", str(auth_file), "--dest-cert-dir", str(certs)]
        done = subprocess.run(
            [*command, reference, f"docker://{login_server}/{image}"],
            capture_output=True,
            text=True,
            check=False,
        )
    if done.returncode != 0:
        raise ClientError(
            f"skopeo could not push {reference} to {login_server}/{image}: {done.stderr.strip()[-800:]} "
            "(pushing needs AcrPush on the registry).",
            code="ImportFailed",
        )
