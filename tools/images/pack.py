"""Write a docker-archive image (what ``docker save`` writes; ``ctr images import`` reads it).

    python3 tools/images/pack.py OUT.tar REFERENCE --layer A.tar [--layer B.tar] [--env K=V] [--cmd ARG ...]

Layers are uncompressed tar files, bottom first; the archive holds them as ``<sha256>/layer.tar``
next to the image config and ``manifest.json``. Standard library only: it runs before any virtual
environment exists. Hazard: layers are copied whole (a few hundred MB for the base image).
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


def pack(out: Path, reference: str, *, layers: list[Path], env: list[str], cmd: list[str]) -> None:
    diff_ids = [_sha256(layer) for layer in layers]
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Env": env, "Cmd": cmd, "WorkingDir": "/"},
        "rootfs": {"type": "layers", "diff_ids": [f"sha256:{d}" for d in diff_ids]},
        "history": [{"created_by": "tools/images/build.sh"} for _ in layers],
    }
    config_bytes = json.dumps(config, sort_keys=True).encode()
    config_name = hashlib.sha256(config_bytes).hexdigest() + ".json"
    manifest = [{"Config": config_name, "RepoTags": [reference], "Layers": [f"{d}/layer.tar" for d in diff_ids]}]
    partial = out.with_suffix(".partial")
    with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as archive:
        for digest, layer in zip(diff_ids, layers, strict=True):
            archive.add(layer, arcname=f"{digest}/layer.tar")
        _add_bytes(archive, config_name, config_bytes)
        _add_bytes(archive, "manifest.json", json.dumps(manifest).encode())
    shutil.move(partial, out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("reference")
    parser.add_argument("--layer", type=Path, action="append", required=True)
    parser.add_argument("--env", action="append", default=[])
    parser.add_argument("--cmd", nargs="+", default=[])
    args = parser.parse_args()
    pack(args.out, args.reference, layers=args.layer, env=args.env, cmd=args.cmd)


if __name__ == "__main__":
    main()
