"""Python client over Tether's REST API; the CLI's only way to the server."""

from tether.client.core import API_VERSION, TetherClient
from tether.client.errors import ClientError, NotLoggedIn, OperationFailed, ServerUnreachable
from tether.client.profile import Profile, load_profile, profile_from_bootstrap, save_profile

__all__ = [
    "API_VERSION",
    "ClientError",
    "NotLoggedIn",
    "OperationFailed",
    "Profile",
    "ServerUnreachable",
    "TetherClient",
    "load_profile",
    "profile_from_bootstrap",
    "save_profile",
]
