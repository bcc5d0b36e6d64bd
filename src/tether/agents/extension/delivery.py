"""A job's code and outputs in its pods: the init container that downloads the code snapshot, and the
wrapper that uploads ``/tether/outputs/<name>`` after the command (pure rendering; scripts run in the pod).

With ``spec.delivery`` a pod gets an ``emptyDir`` at ``/tether``; the init container ``fetch-code``
(the job's own image, ``python3``) lists the snapshot's blobs with the SAS and writes them to
``/tether/code``, the command's working directory; the main container runs the command through
``/bin/sh -c`` and then uploads every file under ``/tether/outputs/<name>`` to the output's prefix with
its SAS. An upload that fails fails a job that succeeded. Both use only Python's standard library and
trust ``caBundle`` (Tether's blob endpoint may have a private CA).

Hazards: the image must have ``python3`` (Azure ML's images do); files are uploaded in one Put Blob
each (read whole into memory); blob names that would land outside ``/tether/code`` are refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

WORK_VOLUME = "tether-work"
WORK_DIR = "/tether"
CODE_DIR = f"{WORK_DIR}/code"
OUTPUT_DIR = f"{WORK_DIR}/outputs"
FETCH_CONTAINER = "fetch-code"

# The scripts below are program text run by ``python3 -c`` inside the job's pod, never in Tether: their
# print() writes to the container's stdout, which is the job's log (what the user reads), not Tether's.
FETCH_SCRIPT = r"""
import os, shutil, ssl, sys, urllib.parse, urllib.request, xml.etree.ElementTree as ET
base, _, sas = os.environ["TETHER_CODE_URL"].partition("?")
prefix = os.environ.get("TETHER_CODE_PREFIX", "").strip("/")
ca = os.environ.get("TETHER_CA_BUNDLE")
context = ssl.create_default_context(cadata=ca) if ca else ssl.create_default_context()
dest = os.environ["TETHER_CODE_DIR"]
os.makedirs(dest, exist_ok=True)
marker, count = "", 0
while True:
    query = "restype=container&comp=list"
    if prefix:
        query += "&prefix=" + urllib.parse.quote(prefix + "/")
    if marker:
        query += "&marker=" + urllib.parse.quote(marker)
    with urllib.request.urlopen(base + "?" + query + "&" + sas, context=context, timeout=60) as answer:
        root = ET.fromstring(answer.read())
    for blob in root.iter("Blob"):
        name = blob.findtext("Name") or ""
        relative = name[len(prefix) + 1:] if prefix else name
        if not relative or relative.endswith("/"):
            continue
        path = os.path.normpath(os.path.join(dest, relative))
        if not path.startswith(dest + os.sep):
            sys.exit(f"[tether] refusing blob {name!r}: it would be written outside {dest}")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        url = base + "/" + urllib.parse.quote(name) + "?" + sas
        with urllib.request.urlopen(url, context=context, timeout=300) as answer, open(path, "wb") as out:
            shutil.copyfileobj(answer, out)
        count += 1
    marker = root.findtext("NextMarker") or ""
    if not marker:
        break
print(f"[tether] code snapshot: {count} files in {dest}")
"""

UPLOAD_SCRIPT = r"""
import json, os, ssl, urllib.parse, urllib.request
ca = os.environ.get("TETHER_CA_BUNDLE")
context = ssl.create_default_context(cadata=ca) if ca else ssl.create_default_context()
for output in json.loads(os.environ["TETHER_OUTPUTS"]):
    base, _, sas = output["containerUrl"].partition("?")
    root = os.path.join(os.environ["TETHER_OUTPUT_DIR"], output["name"])
    count = 0
    for folder, _dirs, files in os.walk(root):
        for file in files:
            path = os.path.join(folder, file)
            name = output.get("prefix", "").strip("/") + "/" + os.path.relpath(path, root).replace(os.sep, "/")
            with open(path, "rb") as source:
                data = source.read()
            request = urllib.request.Request(
                base + "/" + urllib.parse.quote(name.lstrip("/")) + "?" + sas, data=data, method="PUT",
                headers={"x-ms-blob-type": "BlockBlob", "x-ms-version": "2021-08-06"},
            )
            urllib.request.urlopen(request, context=context, timeout=300).close()
            count += 1
    print(f"[tether] output {output['name']}: {count} files uploaded")
"""

# The command runs in a shell of its own; its exit code is the pod's unless the upload fails after success.
# Images with only ``python3`` (Debian's) get ``python`` too, as Azure ML's images have it.
WRAPPER = (
    'for d in $TETHER_OUTPUT_NAMES; do mkdir -p "$TETHER_OUTPUT_DIR/$d"; done\n'
    "if ! command -v python >/dev/null 2>&1 && command -v python3 >/dev/null 2>&1; then\n"
    '  mkdir -p /tether/bin && ln -sf "$(command -v python3)" /tether/bin/python && PATH="/tether/bin:$PATH"\n'
    "fi\n"
    '/bin/sh -c "$TETHER_COMMAND"\n'
    "rc=$?\n"
    'if [ -n "$TETHER_OUTPUT_NAMES" ]; then python3 -c "$TETHER_UPLOAD_SCRIPT" || { [ $rc -eq 0 ] && rc=1; }; fi\n'
    "exit $rc\n"
)


@dataclass(frozen=True)
class Delivery:
    """``spec.delivery`` of a TetherJob."""

    code_url: str | None
    code_prefix: str
    outputs: tuple[Mapping[str, str], ...]
    ca_bundle: str | None

    @classmethod
    def from_cr(cls, value: Mapping[str, Any]) -> Delivery:
        code = value.get("code") or {}
        outputs = tuple(
            {"name": str(o["name"]), "containerUrl": str(o["containerUrl"]), "prefix": str(o.get("prefix", ""))}
            for o in value.get("outputs") or []
        )
        return cls(
            code_url=str(code["containerUrl"]) if code else None,
            code_prefix=str(code.get("prefix", "")),
            outputs=outputs,
            ca_bundle=value.get("caBundle") or None,
        )


def _env(values: Mapping[str, str | None]) -> list[dict[str, str]]:
    return [{"name": k, "value": v} for k, v in values.items() if v is not None]


def apply_delivery(pod_spec: dict[str, Any], main: dict[str, Any], delivery: Delivery, *, command: str) -> None:
    """Add the work volume, the code download and the output upload to a rendered pod (in place)."""
    mount = {"name": WORK_VOLUME, "mountPath": WORK_DIR}
    pod_spec.setdefault("volumes", []).append({"name": WORK_VOLUME, "emptyDir": {}})
    main.setdefault("volumeMounts", []).append(mount)
    names = " ".join(o["name"] for o in delivery.outputs)
    main["command"] = ["/bin/sh", "-c", WRAPPER]
    main["env"] = [
        *main.get("env", []),
        *_env(
            {
                "TETHER_COMMAND": command,
                "TETHER_OUTPUT_DIR": OUTPUT_DIR,
                "TETHER_OUTPUT_NAMES": names,
                "TETHER_OUTPUTS": json.dumps(list(delivery.outputs)) if delivery.outputs else None,
                "TETHER_UPLOAD_SCRIPT": UPLOAD_SCRIPT if delivery.outputs else None,
                "TETHER_CA_BUNDLE": delivery.ca_bundle,
            }
        ),
    ]
    if delivery.code_url is None:
        main["workingDir"] = WORK_DIR
        return
    main["workingDir"] = CODE_DIR
    pod_spec["initContainers"] = [
        {
            "name": FETCH_CONTAINER,
            "image": main["image"],
            "command": ["python3", "-c", FETCH_SCRIPT],
            "env": _env(
                {
                    "TETHER_CODE_URL": delivery.code_url,
                    "TETHER_CODE_PREFIX": delivery.code_prefix,
                    "TETHER_CODE_DIR": CODE_DIR,
                    "TETHER_CA_BUNDLE": delivery.ca_bundle,
                }
            ),
            "resources": main.get("resources", {}),
            "volumeMounts": [mount],
        }
    ]
