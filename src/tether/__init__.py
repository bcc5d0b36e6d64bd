"""Tether: attach Kubernetes clusters to ML workspaces as compute targets, over Azure's ARM wire format."""

__version__ = "0.1.0"
