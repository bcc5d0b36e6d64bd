"""lightkube resource classes for the ML extension's custom resources (``InstanceType``, ``TetherJob``)."""

from __future__ import annotations

from lightkube.generic_resource import create_global_resource, create_namespaced_resource

from tether.kube import extension_manifests as m

InstanceType = create_global_resource(
    m.INSTANCE_TYPE_GROUP, m.INSTANCE_TYPE_VERSION, m.INSTANCE_TYPE_KIND, m.INSTANCE_TYPE_PLURAL
)
TetherJob = create_namespaced_resource(m.JOB_GROUP, m.JOB_VERSION, m.JOB_KIND, m.JOB_PLURAL)
