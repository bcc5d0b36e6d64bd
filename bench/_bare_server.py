"""A bare FastAPI endpoint under uvicorn with the same TLS settings as tether server: the benchmark's floor."""

from __future__ import annotations

import sys

import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse

app = FastAPI()


@app.get("/bare")
async def bare() -> JSONResponse:
    return JSONResponse({"id": "bare", "name": "bare", "properties": {"provisioningState": "Succeeded"}})


if __name__ == "__main__":
    port, cert, key = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    uvicorn.run(
        app, host="127.0.0.1", port=port, ssl_certfile=cert, ssl_keyfile=key, log_level="warning", access_log=False
    )
