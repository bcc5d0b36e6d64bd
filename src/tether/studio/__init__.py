"""Studio: the web UI at ``/studio``, server-rendered (Jinja2 templates, hand-written CSS, a small script).

``install`` adds its routes to the server's app: the token service's authorize endpoint with its login
page, the Studio's sign-in, and its pages. Static assets are package files served from
``/studio/static`` (no CDN: the pages work offline).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from tether.studio import computes, jobs, signin
from tether.studio.sessions import Sessions


def install(app: FastAPI) -> None:
    app.state.studio_sessions = Sessions()
    app.mount("/studio/static", StaticFiles(directory=Path(__file__).parent / "static"), name="studio-static")
    app.include_router(signin.router)
    app.include_router(computes.router)
    app.include_router(jobs.router)
