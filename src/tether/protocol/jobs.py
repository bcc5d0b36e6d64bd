"""Wire shapes of jobs (``Microsoft.MachineLearningServices/workspaces/jobs``), command jobs only.

The request's ``properties`` are the job's spec (``tether.domain.models.jobs.JobSpec``: Azure ML's REST
shape as azure-ai-ml sends it, see docs/sdk-jobs.md). ``job_properties`` is the one place a job's public
ARM ``properties`` are derived from its stored state: the spec and what Tether wrote (status, timeline...),
never the private part. ``OUTPUT_FIELDS`` are what Tether writes into a job: a body read from Tether and
PUT back (``jobs.archive``) carries them, and they are ignored on the way in.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from tether.domain.models.jobs import JobRecord, JobSpec

#: Fields of a job's ``properties`` that Tether computes; a PUT may carry them back, they are not read.
OUTPUT_FIELDS = ("status", "timeline", "error", "cancelRequested", "pods", "services", "parameters", "exitCode")


class CreateJobRequest(BaseModel):
    """The envelope: ``properties``; the read-only envelope fields a GET answered may come back and are ignored."""

    model_config = ConfigDict(extra="forbid")
    properties: JobSpec
    id: str | None = None
    name: str | None = None
    type: str | None = None
    etag: str | None = None
    location: str | None = None
    tags: dict[str, str] | None = None
    systemData: dict[str, Any] | None = None  # noqa: N815


def without_output_fields(body: Any) -> Any:
    """The body without what Tether itself writes into a job (a GET's answer PUT back carries those)."""
    if isinstance(body, dict) and isinstance(body.get("properties"), dict):
        inner = {k: v for k, v in body["properties"].items() if k not in OUTPUT_FIELDS}
        return {**body, "properties": inner}
    return body


def job_properties(record: JobRecord, *, studio_endpoint: str | None = None) -> dict[str, Any]:
    """The job's ARM ``properties``; with ``studio_endpoint``, ``services.Studio`` links to its Studio page."""
    properties = {**record.spec.stored(), **record.state.to_stored()}
    if studio_endpoint is not None:
        properties["services"] = {"Studio": {"jobServiceType": "Studio", "endpoint": studio_endpoint, "status": None}}
    return properties
