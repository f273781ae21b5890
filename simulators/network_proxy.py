"""A real HTTP proxy between a party and the backend: proxy.py (PyPI `proxy.py`) in its own process, on 127.0.0.1 and
an ephemeral port, that can be told to break WebSocket upgrades.

What a proxy of this kind does to the Codex daemon is what openai/codex#41549 reported: the daemon inherits
`HTTP_PROXY` from the person's shell, its HTTP calls (enroll, refresh) pass through the proxy, but the proxy refuses
the tunnel the daemon's relay WebSocket needs, so remote control stays errored. The real 0.169.0 sends plain HTTP to
an `http://` backend through the proxy in absolute form and opens its `ws://` relay socket with `CONNECT host:port`
(observed, docs/protocol.md §8); "breaking WebSocket upgrades" is therefore refusing CONNECT tunnels, and refusing a
request that carries `Upgrade` for a client that asks in absolute form instead, with 403.

Run as `python -m simulators.network_proxy`: it prints `pairsim proxy listening on 127.0.0.1:PORT` once it listens,
one line per request it handled (`forwarded` or `refused 403`), and exits when its standard input closes (so it
never outlives the world that started it). Whether it breaks upgrades is a file in its control folder
(`PAIRSIM_PROXY_CONTROL`), read at every request: the world can change its mind while the proxy runs.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

from simulators.protocol.errors import PairsimError

CONTROL_ENV = "PAIRSIM_PROXY_CONTROL"
BREAK_UPGRADES_FILE = "break-websocket-upgrades"
READY_TIMEOUT_SECONDS = 30.0
STOP_GRACE_SECONDS = 5.0
REFUSAL_BODY = b"WebSocket upgrades are not allowed through this proxy"
_LISTENING = re.compile(r"^pairsim proxy listening on (127\.0\.0\.1):(\d+)$")

try:  # the plugin is loaded only inside the proxy process, where proxy.py is imported anyway
    from proxy.http.exception import HttpRequestRejected
    from proxy.http.parser import HttpParser
    from proxy.http.proxy import HttpProxyBasePlugin
except ImportError:  # pragma: no cover - proxy.py is a declared dependency
    HttpProxyBasePlugin = object  # type: ignore[assignment,misc]


class ProxyFailed(PairsimError):
    """The proxy process exited, or never said it was listening."""


def _breaks_upgrades() -> bool:
    control = os.environ.get(CONTROL_ENV)
    return control is not None and (Path(control) / BREAK_UPGRADES_FILE).exists()


class BreakWebSocketUpgrades(HttpProxyBasePlugin):  # type: ignore[misc,valid-type]
    """proxy.py plugin: refuse tunnels and upgrades while told to; say what became of every request."""

    def before_upstream_connection(self, request: HttpParser) -> HttpParser | None:
        target = _target(request)
        if _breaks_upgrades() and (request.is_https_tunnel or request.has_header(b"upgrade")):
            _say(f"{target} refused 403")
            raise HttpRequestRejected(status_code=403, reason=b"Forbidden", body=REFUSAL_BODY)
        _say(f"{target} forwarded")
        return _canonical_length(request)

    def handle_client_request(self, request: HttpParser) -> HttpParser | None:
        return _canonical_length(request)


def _canonical_length(request: Any) -> Any:
    """proxy.py 2.4.10 rebuilds a request with a body by adding `Content-Length` beside the client's own header when
    the client wrote it in lower case (reqwest, so the real daemon, does): the backend then refuses a duplicate
    header. Writing the header back under its canonical name lets the rebuild replace it instead."""
    if request.has_header(b"content-length"):
        request.add_header(b"Content-Length", request.header(b"content-length"))
    return request


def _target(request: Any) -> str:
    method = (request.method or b"").decode("latin-1")
    host = (request.host or b"").decode("latin-1")
    path = (request.path or b"").decode("latin-1") if not request.is_https_tunnel else ""
    return f"{method} {host}:{request.port}{path}"


def _say(line: str) -> None:
    print(f"pairsim proxy: {line}", flush=True)


def main() -> int:
    from proxy import Proxy

    args = ["--hostname", "127.0.0.1", "--port", "0", "--num-acceptors", "1", "--num-workers", "1",
            "--log-level", "WARNING", "--plugins", f"{__name__}.BreakWebSocketUpgrades"]
    with Proxy(args) as running:
        print(f"pairsim proxy listening on 127.0.0.1:{running.flags.port}", flush=True)
        # Serve until whoever started us goes away (our standard input closes) or stops us.
        sys.stdin.read()
    return 0


class HttpProxy:
    """The proxy process, seen from the world that started it."""

    def __init__(self, control: Path) -> None:
        self.control = control
        self.port: int | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._lines: list[str] = []
        self._changed = threading.Condition()
        self._ended = False

    def start(self) -> HttpProxy:
        self.control.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, CONTROL_ENV: str(self.control), "PYTHONUNBUFFERED": "1"}
        for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
            env.pop(name, None)  # the proxy itself goes straight to the backend
        self._process = subprocess.Popen(
            [sys.executable, "-m", __name__], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
        threading.Thread(target=self._read, name="pairsim-proxy-output", daemon=True).start()
        deadline = time.monotonic() + READY_TIMEOUT_SECONDS
        with self._changed:
            while self.port is None and not self._ended:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(remaining)
        if self.port is None:
            self.stop()
            raise ProxyFailed(f"the proxy did not start listening; it said: {self._lines[-5:]}")
        return self

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for raw in self._process.stdout:
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            with self._changed:
                listening = _LISTENING.match(line)
                if listening is not None:
                    self.port = int(listening.group(2))
                self._lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._ended = True
            self._changed.notify_all()

    @property
    def url(self) -> str:
        if self.port is None:
            raise ProxyFailed("the proxy is not running")
        return f"http://127.0.0.1:{self.port}"

    def break_websocket_upgrades(self, broken: bool = True) -> None:
        """From the next request on, refuse (or carry again) tunnels and upgrades."""
        flag = self.control / BREAK_UPGRADES_FILE
        if broken:
            flag.touch()
        else:
            flag.unlink(missing_ok=True)

    @property
    def requests(self) -> list[str]:
        """What became of each request, in order: `CONNECT 127.0.0.1:P refused 403`, `POST 127.0.0.1:P/… forwarded`."""
        with self._changed:
            return [line.removeprefix("pairsim proxy: ") for line in self._lines if line.startswith("pairsim proxy: ")]

    def wait_for_request(self, pattern: str, timeout: float = 30.0) -> str | None:
        """The first request line matching `pattern`, waiting for the proxy to handle it."""
        compiled = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = next((line for line in self.requests if compiled.search(line)), None)
                remaining = deadline - time.monotonic()
                if found is not None or self._ended or remaining <= 0:
                    return found
                self._changed.wait(remaining)

    def stop(self) -> None:
        process, self._process = self._process, None
        if process is None:
            return
        with contextlib.suppress(OSError):
            assert process.stdin is not None
            process.stdin.close()
        try:
            process.wait(STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(STOP_GRACE_SECONDS)
        else:
            # proxy.py's acceptor runs in a child process of its own: end the whole group.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)


if __name__ == "__main__":
    raise SystemExit(main())
