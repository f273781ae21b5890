"""The commands the desktop sends over SSH to find and start the remote `codex`, and how it reads their answers
(sans-I/O: text in, typed answer out).

sshd hands every command to the person's login shell as `<shell> -c '<command>'`, so the command is read by bash,
zsh or csh/tcsh before anything of ours runs:

- legacy probe: a Bourne script of several lines that asks the login shell (`$SHELL -l -c`, a login shell that is
  not interactive) for `command -v codex`. zsh then reads `.zprofile` but not `.zshrc` (openai/codex#19198: codex in
  `~/bin`, which only `.zshrc` adds), bash reads `.profile`, whose `.bashrc` stops at its interactive guard before
  nvm's lines; csh/tcsh read the Bourne lines as their own, refuse `-l` among other flags and a quote left
  open at a line's end (#19302).
- fixed probe: one physical line handed to `/bin/sh`, so csh passes it through untouched; it honours
  `CODEX_INSTALL_DIR`, and asks a login *and interactive* shell (`-l -i`), or `$SHELL -c` for csh/tcsh, which read
  `.cshrc` always and take `-l` only alone.
- start: `nohup <codex> app-server --listen ws://127.0.0.1:<port>` in the background with its output in
  `/tmp/codex-app-server-ssh-ws-v0.log`, by a non-interactive shell (so nvm's Node is not on PATH: #19744), then
  watch the log until the app-server says it listens or exits. The legacy desktop does not look at that answer;
  the fixed one does, and reads the log's last lines for the cause.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from enum import StrEnum

DEFAULT_REMOTE_PORT = 9234
APP_SERVER_LOG = "/tmp/codex-app-server-ssh-ws-v0.log"
PATH_MARK = "codex_path="
READY_MARK = "app_server_ready"
EXITED_MARK = "app_server_exited"
# The remote side watches the app-server's log for at most this many 50 ms looks (20 s), then reports it slow.
START_LOOKS = 400

# The format's line break is a real one inside single quotes, as a script written in a template literal gets it
# (`\n` there is a newline before any shell sees it). Bourne shells print it; csh/tcsh refuse a quote left open at
# a line's end, which with the `if`/`fi` lines and `-l` beside `-c` gives the three lines #19302 quotes.
LEGACY_PROBE = (
    'if [ -z "${SHELL:-}" ]; then\n'
    "  SHELL=/bin/sh\n"
    "fi\n"
    """p=`"$SHELL" -l -c 'command -v codex' | tail -n 1`\n"""
    "printf 'codex_path=%s\n"
    """' "$p"\n"""
)


class BadInstallDir(ValueError):
    """A CODEX_INSTALL_DIR the desktop will not put into a remote command."""


def _install_dir_expression(install_dir: str | None) -> str:
    if not install_dir:
        return '""'
    if any(ch in install_dir for ch in "\"'`$\\!\n"):
        raise BadInstallDir(f"CODEX_INSTALL_DIR holds a character the remote shell would interpret: {install_dir!r}")
    if install_dir == "~" or install_dir.startswith("~/"):
        return f'"$HOME{install_dir[1:]}"'
    return f'"{install_dir}"'


def fixed_probe(install_dir: str | None = None) -> str:
    script = (
        f"d={_install_dir_expression(install_dir)}; "
        'if [ -n "$d" ] && [ -x "$d/codex" ]; then echo "codex_path=$d/codex"; exit 0; fi; '
        'case "${SHELL##*/}" in '
        'csh|tcsh) p=$("$SHELL" -c "which codex" </dev/null 2>/dev/null);; '
        '*) p=$("$SHELL" -l -i -c "command -v codex" </dev/null 2>/dev/null);; '
        "esac; "
        'echo "codex_path=$(printf %s "$p" | tail -n 1)"'
    )
    return f"exec /bin/sh -c '{script}'"


def start_command(codex_path: str, remote_port: int = DEFAULT_REMOTE_PORT) -> str:
    listen = f"ws://127.0.0.1:{remote_port}"
    # The log is emptied before the launch, not by the background job's own `>`: that redirection happens in the
    # forked child, so the watch below could read the previous run's "listening on:" before it.
    script = (
        f": >{APP_SERVER_LOG}; "
        f'CODEX_EXTERNAL_ORIGINATOR_OVERRIDE="Codex Desktop" nohup "{codex_path}" app-server --listen {listen} '
        f">>{APP_SERVER_LOG} 2>&1 </dev/null & "
        "pid=$!; i=0; "
        'while kill -0 "$pid" 2>/dev/null; do '
        f'if grep -q "listening on:" {APP_SERVER_LOG}; then echo "{READY_MARK} pid=$pid"; exit 0; fi; '
        f'i=$((i+1)); if [ "$i" -gt {START_LOOKS} ]; then echo app_server_slow; exit 2; fi; sleep 0.05; '
        "done; "
        f'echo "{EXITED_MARK}"; exit 1'
    )
    if any(ch in codex_path for ch in "\"'`$\\!\n"):
        raise BadInstallDir(f"a codex path the remote shell would interpret: {codex_path!r}")
    return f"exec /bin/sh -c {shlex.quote(script)}"


class ProbeResult(StrEnum):
    FOUND = "found"
    NOT_FOUND = "not_found"
    SHELL_ERROR = "shell_error"  # the login shell could not run the probe at all


@dataclass(frozen=True)
class ProbeAnswer:
    result: ProbeResult
    codex_path: str | None
    stderr: str


def read_probe(exit_code: int, stdout: str, stderr: str) -> ProbeAnswer:
    """What the probe found. A path is only a path if it is absolute: rc files may print anything."""
    for line in reversed(stdout.splitlines()):
        if line.startswith(PATH_MARK):
            path = line[len(PATH_MARK):].strip()
            if path.startswith("/"):
                return ProbeAnswer(ProbeResult.FOUND, path, stderr)
            return ProbeAnswer(ProbeResult.NOT_FOUND, None, stderr)
    return ProbeAnswer(ProbeResult.SHELL_ERROR, None, stderr)


class StartResult(StrEnum):
    READY = "ready"
    EXITED = "exited"
    SLOW = "slow"
    UNKNOWN = "unknown"


def read_start(stdout: str) -> StartResult:
    if READY_MARK in stdout:
        return StartResult.READY
    if EXITED_MARK in stdout:
        return StartResult.EXITED
    if "app_server_slow" in stdout:
        return StartResult.SLOW
    return StartResult.UNKNOWN


def log_cause(log: str) -> str | None:
    """The line of the app-server's log that says why it stopped: the last non-blank one."""
    lines = [line.strip() for line in log.splitlines() if line.strip()]
    return lines[-1] if lines else None
