"""The mock app-server's stdio transport (`--listen stdio://`, the real daemon's default): one client, whose
JSON-RPC messages are the lines of standard input; every outgoing message is one line on standard output.

As observed on 0.169.0: a line is one message (whitespace around it and a `\\r\\n` ending are fine, a message
split over two lines is two bad frames), a line that is not a JSON-RPC message is logged and dropped, and the
end of input ends the server with exit code 0. The real server exits at once at the end of input and can drop
answers still in flight; the mock answers every complete line first, so a piped script always gets its
answers. A last line without a newline gets no answer, as on the real server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from typing import Any, BinaryIO

from simulators.daemon.app_server import AppServer

log = logging.getLogger("pairsim.daemon.stdio")

ORIGIN = "stdio"


def _read_lines(
    stream: BinaryIO, loop: asyncio.AbstractEventLoop, queue: asyncio.Queue[bytes | None]
) -> None:
    # A blocking reader on a daemon thread: stdin may be a pipe, a file or a terminal, and a thread stuck in
    # read() must not keep the process alive after a signal.
    try:
        for line in iter(stream.readline, b""):
            if not line.endswith(b"\n"):
                break  # the end of input cut the line short
            loop.call_soon_threadsafe(queue.put_nowait, line)
    except (OSError, ValueError) as exc:
        log.warning("stopped reading stdin: %s", type(exc).__name__)
    finally:
        with contextlib.suppress(RuntimeError):  # the loop is already closed: nobody is waiting any more
            loop.call_soon_threadsafe(queue.put_nowait, None)


async def serve_stdio(
    app_server: AppServer, stdin: BinaryIO, stdout: BinaryIO, stop: asyncio.Event | None = None
) -> None:
    """Serve one client on `stdin`/`stdout` until the end of input (or `stop` is set)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[bytes | None] = asyncio.Queue()
    threading.Thread(
        target=_read_lines, args=(stdin, loop, queue), name="pairsim-stdio-reader", daemon=True
    ).start()

    async def send(message: dict[str, Any]) -> None:
        data = json.dumps(message, separators=(",", ":"), ensure_ascii=False).encode("utf-8") + b"\n"
        stdout.write(data)
        stdout.flush()

    connection = app_server.connect(send, origin=ORIGIN)
    stopped = asyncio.ensure_future(stop.wait()) if stop is not None else None
    try:
        while True:
            next_line = asyncio.ensure_future(queue.get())
            waiting = {next_line} if stopped is None else {next_line, stopped}
            await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
            if not next_line.done():
                next_line.cancel()
                break
            line = next_line.result()
            if line is None:
                break
            await connection.receive_text(line)
    finally:
        if stopped is not None:
            stopped.cancel()
        connection.close()
