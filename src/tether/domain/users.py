"""Users: principals of kind ``User`` that sign in with a user principal name and a password.

The password hash is not part of the model: the store hands it out only to the sign-in check.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from tether.domain.principals import Principal


@dataclass(frozen=True, slots=True)
class User:
    principal: Principal
    user_principal_name: str
    created_at: dt.datetime
