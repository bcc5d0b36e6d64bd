"""Building resource ids on the client side (the server validates them; these only format)."""

from __future__ import annotations

from tether.client.profile import Profile


def subscription(profile: Profile) -> str:
    return f"/subscriptions/{profile.subscription_id}"


def resource_group(profile: Profile, name: str) -> str:
    return f"{subscription(profile)}/resourceGroups/{name}"


def workspace(profile: Profile, group: str, name: str) -> str:
    return f"{resource_group(profile, group)}/providers/Microsoft.MachineLearningServices/workspaces/{name}"
