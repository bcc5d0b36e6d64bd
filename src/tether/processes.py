"""Local helper processes the server runs beside itself (Distribution registries, Azurite): ports, stopping.

Hazard: a port found free is free only until someone binds it; a process started on it may find it
taken (the bind-and-release race), which its caller sees as a failed start.
"""

from __future__ import annotations

import asyncio
import socket


def loopback_port_is_free(port: int) -> bool:
    """Whether nothing listens on ``127.0.0.1:<port>`` (as Go binds: connections in TIME_WAIT do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_loopback_port() -> int:
    """A loopback port free now (bound and released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def stop_process(process: asyncio.subprocess.Process, *, grace_s: float = 5.0) -> None:
    """SIGTERM, then SIGKILL if it has not exited within ``grace_s``; returns once it has exited."""
    if process.returncode is not None:
        return
    process.terminate()
    try:
        async with asyncio.timeout(grace_s):
            await process.wait()
    except TimeoutError:
        process.kill()
        await process.wait()
