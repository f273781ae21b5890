"""`pairsim login`, `pairsim login status`, `pairsim logout`: the Codex CLI's sign-in commands, simulated.

Runnable anywhere, including inside a network namespace: every address is a flag (`--issuer`, `--host`, `--port`,
`--fallback-port`, `--home`). What the user sees goes where the real CLI sends it: the browser-login banner,
`Successfully logged in` and `Error logging in: ...` on stderr, the device-code steps on stdout. A failed login
exits 1, as the real one; bad arguments exit 2.

Test seam: with `PAIRSIM_CLOCK=tcp://HOST:PORT` in the environment, the logins read the time from, and sleep on, the
clock served there (`shared_clock.py`; the login lab serves one that stands still until a scenario moves it).
Without it they use the machine's clock.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from simulators import messages
from simulators.login.credential_store import (
    AuthMode,
    CredentialStore,
    CredentialStoreError,
    CredentialStoreMode,
    KeyringUnavailable,
    keyring_from_environment,
    open_store,
)
from simulators.protocol.errors import PairsimError
from simulators.protocol.oauth import CALLBACK_PORT, DEFAULT_ISSUER

if TYPE_CHECKING:
    from simulators.login.callback_server import LoginFailed
    from simulators.login.client import LoginSettings

# Each flow's modules are imported when that flow runs: `login status` and `logout` need no HTTP client, and the
# browser login's server is needed by nothing else (start-up time, which the login scenarios pay per process).

EXIT_FAILED = 1


def default_home() -> Path:
    return Path(os.environ.get("CODEX_HOME") or Path.home() / ".codex")


def _store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--home", type=Path, default=None, help="CODEX_HOME (default: $CODEX_HOME or ~/.codex)")
    parser.add_argument(
        "--credentials-store",
        choices=[m.value for m in CredentialStoreMode],
        default=CredentialStoreMode.FILE.value,
        help="where the tokens are kept (keyring backend: $PAIRSIM_KEYRING = file, system or none)",
    )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    login = subparsers.add_parser("login", help="sign in as `codex login` does (browser, device code, access token)")
    login.add_argument("action", nargs="?", choices=["status"], help="`status`: show who is signed in")
    login.add_argument("--issuer", default=DEFAULT_ISSUER, help=f"OAuth issuer base URL (default {DEFAULT_ISSUER})")
    login.add_argument("--host", default="127.0.0.1", help="address the callback server binds (default 127.0.0.1)")
    login.add_argument("--port", type=int, default=CALLBACK_PORT, help=f"callback port (default {CALLBACK_PORT})")
    login.add_argument(
        "--fallback-port",
        type=int,
        default=None,
        help="port tried when --port stays busy (default: 1457 when --port is 1455, else none)",
    )
    login.add_argument("--device-auth", action="store_true", help="sign in with a one-time device code")
    login.add_argument("--with-access-token", action="store_true", help="read a ChatGPT access token from stdin")
    login.add_argument("--no-browser", action="store_true", help="print the sign-in URL without opening a browser")
    login.add_argument("--timeout", type=float, default=None, help="give up after this many seconds")
    _store_options(login)
    login.set_defaults(func=run_login)

    logout = subparsers.add_parser("logout", help="forget the stored sign-in, as `codex logout`")
    _store_options(logout)
    logout.set_defaults(func=run_logout)


def _store(args: argparse.Namespace) -> CredentialStore:
    home: Path = args.home or default_home()
    # Only the modes that may use a keyring open one (opening it is most of `login status`'s start-up time).
    uses_keyring = args.credentials_store in (CredentialStoreMode.KEYRING, CredentialStoreMode.AUTO)
    try:
        return open_store(args.credentials_store, home, keyring_from_environment(home) if uses_keyring else None)
    except KeyringUnavailable as exc:
        raise PairsimError(messages.CLI_KEYRING_UNAVAILABLE) from exc


def _err(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _out(line: str) -> None:
    print(line, flush=True)


def _check_port(name: str, value: int | None) -> None:
    if value is not None and not 0 <= value <= 65535:
        raise PairsimError(f"{name} must be between 0 and 65535, not {value}")


def run_login(args: argparse.Namespace) -> int:
    if args.action == "status":
        return run_status(args)
    if args.device_auth and args.with_access_token:
        raise PairsimError("--device-auth and --with-access-token cannot be used together")
    _check_port("--port", args.port)
    _check_port("--fallback-port", args.fallback_port)
    store = _store(args)
    issuer = args.issuer.rstrip("/")
    if args.with_access_token:
        return _access_token_login(issuer, store)
    if args.device_auth:
        return _report(asyncio.run(_device_login(issuer, store, args.timeout)))
    from simulators.login.callback_server import BindPolicy
    from simulators.login.client import LoginSettings

    settings = LoginSettings(
        issuer=issuer, bind=BindPolicy(host=args.host, port=args.port, fallback_port=args.fallback_port)
    )
    return _report(asyncio.run(_browser_login(settings, store, open_browser=not args.no_browser,
                                              timeout=args.timeout)))


def _report(failure: LoginFailed | None) -> int:
    from simulators.login.client import ERROR_PREFIX

    if failure is None:
        return 0
    _err(ERROR_PREFIX + failure.message)
    return EXIT_FAILED


async def _browser_login(
    settings: LoginSettings, store: CredentialStore, *, open_browser: bool, timeout: float | None
) -> LoginFailed | None:
    from simulators.login.callback_server import LoginFailed
    from simulators.login.client import BrowserLogin
    from simulators.login.shared_clock import clock_from_environment

    clock, sleep = clock_from_environment()
    login = BrowserLogin(settings, store, clock=clock, sleep=sleep, on_output=_err)
    try:
        await login.start()
        if open_browser and login.authorize_url:
            import webbrowser

            webbrowser.open(login.authorize_url)
        await login.wait(timeout)
    except LoginFailed as exc:
        return exc
    except TimeoutError:
        return LoginFailed("timed out waiting for the browser")
    finally:
        await login.close()
    return None


async def _device_login(issuer: str, store: CredentialStore, timeout: float | None) -> LoginFailed | None:
    from simulators.login.callback_server import LoginFailed
    from simulators.login.device_code import DeviceCodeLogin
    from simulators.login.shared_clock import clock_from_environment

    clock, sleep = clock_from_environment()
    login = DeviceCodeLogin(issuer, store, clock=clock, sleep=sleep, on_output=_out)
    try:
        async with asyncio.timeout(timeout):
            await login.request_code()
            login._output = _err  # the steps go to stdout, the result line to stderr, as the real CLI
            await login.complete()
    except LoginFailed as exc:
        return exc
    except TimeoutError:
        return LoginFailed("timed out waiting for the device code to be entered")
    finally:
        await login.aclose()
    return None


def _access_token_login(issuer: str, store: CredentialStore) -> int:
    from simulators.login.access_token import ERROR_PREFIX, READING, STDIN_IS_TTY, AccessTokenLogin
    from simulators.login.callback_server import LoginFailed
    from simulators.login.shared_clock import clock_from_environment

    if sys.stdin.isatty():
        _err(STDIN_IS_TTY)
        return EXIT_FAILED
    _err(READING)
    text = sys.stdin.read()
    try:
        clock, _ = clock_from_environment()
        asyncio.run(AccessTokenLogin(issuer, store, clock, on_output=_err).run(text))
    except LoginFailed as exc:
        _err(ERROR_PREFIX + exc.message)
        return EXIT_FAILED
    return 0


def run_status(args: argparse.Namespace) -> int:
    try:
        auth = _store(args).load()
    except CredentialStoreError as exc:
        raise PairsimError(exc.message) from exc
    if auth is None:
        _out(messages.CLI_STATUS_NOT_LOGGED_IN)
        return EXIT_FAILED
    _out(messages.CLI_STATUS_ACCESS_TOKEN if auth.auth_mode is AuthMode.ACCESS_TOKEN else messages.CLI_STATUS_CHATGPT)
    return 0


def run_logout(args: argparse.Namespace) -> int:
    removed = _store(args).delete()
    _out(messages.CLI_LOGGED_OUT if removed else messages.CLI_STATUS_NOT_LOGGED_IN)
    return 0
