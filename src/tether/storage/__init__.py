"""The blob endpoint: token validation, data-action decisions, forwarding to the blob engine (Azurite)."""
