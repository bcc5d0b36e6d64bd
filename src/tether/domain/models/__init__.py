"""One typed model per resource type: the state the store keeps in a resource's ``properties``.

Each module here (``jobs.py`` first) holds a type's stored model, a ``StoredModel``: its public part (what
ARM answers, derived in ``tether.protocol``) and its private part (what only the server reads) in typed
fields. Providers and reconcilers read and write these models through ``tether.store.resources``; none
of them indexes the JSON by string keys. See docs/decisions/0022-typed-resource-models.md.
"""
