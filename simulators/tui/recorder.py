"""`pairsim record`: a WebSocket relay between an app-server client and a daemon that writes down what crosses it.

    pairsim record --upstream ws://127.0.0.1:PORT --out traffic.jsonl [--session NAME --summary TEXT]

It listens on 127.0.0.1 (an ephemeral port unless `--port`), prints `recording ws://127.0.0.1:P -> UPSTREAM` on
stdout once it accepts connections, and for each client opens its own connection to the upstream daemon with the
client's `Authorization` and `x-codex-*` headers. Every text frame is relayed unchanged and appended to `--out` as a
JSON line, redacted (`simulators.protocol.traffic.redact_message`): the file is a `Recording` (a header line, then
one line per frame) whatever moment the relay is stopped at. SIGTERM or SIGINT stops it.

When one side goes away the relay drops the other without a close frame, as the real daemon does (its peers see
1006), so a client sees what it would have seen without the relay.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import signal
import sys
from pathlib import Path
from typing import IO, Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from simulators.protocol.errors import PairsimError
from simulators.protocol.traffic import Recording, RecordingHeader, Side

FORWARDED_HEADERS = ("authorization",)
FORWARDED_PREFIX = "x-codex-"
MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # the daemon's own limit


class RecordingProxy:
    """The relay, on the caller's event loop. `recording` grows as frames pass; `out` (if given) gets each line."""

    def __init__(self, upstream: str, recording: Recording, *, out: IO[str] | None = None, port: int = 0) -> None:
        self.upstream = upstream
        self.recording = recording
        self._out = out
        self._port = port
        self._server: Server | None = None
        self._connections = itertools.count(1)
        self._changed = asyncio.Condition()
        if out is not None:
            out.write(json.dumps(recording.header.to_json(), ensure_ascii=False) + "\n")
            out.flush()

    @property
    def url(self) -> str:
        assert self._server is not None, "the relay is not started"
        host, port = next(iter(self._server.sockets)).getsockname()[:2]
        return f"ws://{host}:{port}"

    async def start(self) -> str:
        self._server = await serve(
            self._relay, "127.0.0.1", self._port, compression=None, max_size=MAX_MESSAGE_BYTES,
            ping_interval=None, process_request=None,
        )
        return self.url

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None

    async def wait_for(self, predicate: Any, timeout: float) -> None:
        """Until `predicate(recording)` is true (e.g. the client has called a method)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(lambda: predicate(self.recording)), timeout)

    async def _note(self, side: Side, connection: int, text: str | bytes) -> None:
        try:
            message = json.loads(text)
        except ValueError:
            return  # not JSON: the daemon drops such frames too; nothing a client depends on
        if not isinstance(message, dict):
            return
        frame = self.recording.add(side, connection, message)
        if self._out is not None:
            self._out.write(json.dumps(frame.to_json(), ensure_ascii=False) + "\n")
            self._out.flush()
        async with self._changed:
            self._changed.notify_all()

    async def _relay(self, client: ServerConnection) -> None:
        number = next(self._connections)
        headers = [
            (name, value) for name, value in client.request.headers.raw_items()
            if name.lower() in FORWARDED_HEADERS or name.lower().startswith(FORWARDED_PREFIX)
        ] if client.request is not None else []
        try:
            daemon = await connect(
                self.upstream, additional_headers=headers, compression=None, max_size=MAX_MESSAGE_BYTES,
                ping_interval=None, open_timeout=10.0,
            )
        except (OSError, InvalidHandshake, InvalidStatus, TimeoutError):
            client.transport.abort()
            return
        pumps = [
            asyncio.ensure_future(self._pump(client, daemon, Side.CLIENT, number)),
            asyncio.ensure_future(self._pump(daemon, client, Side.DAEMON, number)),
        ]
        try:
            await asyncio.wait(pumps, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            # No close frames: the peer of the side that left sees the connection drop, as with the daemon itself.
            daemon.transport.abort()
            client.transport.abort()

    async def _pump(self, source: ServerConnection | ClientConnection, sink: ServerConnection | ClientConnection,
                    side: Side, number: int) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for text in source:
                await self._note(side, number, text)
                await sink.send(text)


# -------------------------------------------------------------------------------------------------- the command


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    record = subparsers.add_parser(
        "record", help="relay an app-server client to a daemon and record the JSON-RPC traffic (redacted)"
    )
    record.add_argument("--upstream", required=True, help="the daemon's ws://IP:PORT")
    record.add_argument("--out", type=Path, required=True, help="the recording to write (JSON lines)")
    record.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    record.add_argument("--session", default="manual", help="the recording's name")
    record.add_argument("--summary", default="traffic recorded by pairsim record", help="what was done")
    record.add_argument("--client", default="unknown client")
    record.add_argument("--daemon", default="unknown daemon")
    record.add_argument("--setup", default="{}", help="the daemon's state at the start, as a JSON object")
    record.set_defaults(func=_record)


def _record(args: argparse.Namespace) -> int:
    if not args.upstream.startswith("ws://"):
        raise PairsimError(f"--upstream must be a ws:// URL, got {args.upstream!r}")
    try:
        setup = json.loads(args.setup)
    except ValueError:
        raise PairsimError("--setup must be a JSON object") from None
    if not isinstance(setup, dict):
        raise PairsimError("--setup must be a JSON object")
    header = RecordingHeader(args.session, args.summary, args.client, args.daemon, setup)
    return asyncio.run(_serve(args.upstream, header, args.out, args.port))


async def _serve(upstream: str, header: RecordingHeader, out_path: Path, port: int) -> int:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    with out_path.open("w", encoding="utf-8") as out:
        proxy = RecordingProxy(upstream, Recording(header), out=out, port=port)
        try:
            url = await proxy.start()
        except OSError as exc:
            raise PairsimError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
        print(f"recording {url} -> {upstream}", flush=True)
        await stop.wait()
        await proxy.stop()
    print(f"pairsim: {len(proxy.recording.frames)} frames written to {out_path}", file=sys.stderr)
    return 0
