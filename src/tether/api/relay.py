"""The relay endpoint that connected clusters' agents dial: one WebSocket per agent, served by the hub."""

from __future__ import annotations

from fastapi import APIRouter, WebSocket

from tether.api.services import Services

router = APIRouter()


@router.websocket("/relay/connect")
async def relay_connect(websocket: WebSocket) -> None:
    services: Services = websocket.app.state.services
    await services.hub.serve(websocket)
