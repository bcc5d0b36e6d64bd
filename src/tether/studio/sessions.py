"""Studio sessions: the signed-in user's access token kept server-side, behind an opaque cookie.

The browser holds only a random session id (``tether_studio``: httpOnly, SameSite=Lax, Secure) and
never sees the token. Each session has its own CSRF token that every form posts back (synchronizer
token pattern). A sign-in in progress is a ``PendingSignIn``: the PKCE verifier and ``state`` wait
here while the browser is at the authorize endpoint.

Hazards: sessions live in this process's memory (a restart signs everyone out; with several server
replicas the Studio needs sticky routing). A session ends when its token expires.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

SESSION_COOKIE = "tether_studio"
SIGN_IN_COOKIE = "tether_studio_signin"
_SIGN_IN_TTL_S = 600.0
_MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class StudioSession:
    id: str
    csrf: str
    access_token: str
    user_principal_name: str
    display_name: str
    expires: float


@dataclass(frozen=True)
class PendingSignIn:
    state: str
    verifier: str
    next_path: str
    expires: float


class Sessions:
    def __init__(self) -> None:
        self._sessions: dict[str, StudioSession] = {}
        self._pending: dict[str, PendingSignIn] = {}

    def begin_sign_in(self, next_path: str) -> PendingSignIn:
        now = time.monotonic()
        for key in [k for k, p in self._pending.items() if p.expires < now]:
            del self._pending[key]
        pending = PendingSignIn(
            state=secrets.token_urlsafe(24),
            verifier=secrets.token_urlsafe(48),
            next_path=next_path if next_path.startswith("/studio") else "/studio",
            expires=now + _SIGN_IN_TTL_S,
        )
        self._pending[pending.state] = pending
        return pending

    def finish_sign_in(self, state: str) -> PendingSignIn | None:
        pending = self._pending.pop(state, None)
        return pending if pending and pending.expires >= time.monotonic() else None

    def create(
        self, *, access_token: str, expires_in_s: float, user_principal_name: str, display_name: str
    ) -> StudioSession:
        now = time.monotonic()
        if len(self._sessions) >= _MAX_SESSIONS:
            for key in [k for k, s in self._sessions.items() if s.expires < now]:
                del self._sessions[key]
        session = StudioSession(
            id=secrets.token_urlsafe(32),
            csrf=secrets.token_urlsafe(32),
            access_token=access_token,
            user_principal_name=user_principal_name,
            display_name=display_name,
            expires=now + expires_in_s,
        )
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> StudioSession | None:
        session = self._sessions.get(session_id or "")
        if session is None:
            return None
        if session.expires < time.monotonic():
            del self._sessions[session.id]
            return None
        return session

    def end(self, session_id: str) -> None:
        self._sessions.pop(session_id, None)


def csrf_matches(session: StudioSession, presented: str | None) -> bool:
    return bool(presented) and secrets.compare_digest(session.csrf, presented or "")
