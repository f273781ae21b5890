"""The project folder on the Mac that the scripted agent works in, and what the Mac really does there.

An approved command runs as a real child process (no shell) and the Mac keeps a record of every process it
spawned; an approved file change is a unified diff applied to the file on disk, hunk by hunk, refusing any line
that does not match. So a scenario can check what the Mac did with a person's decision, not only what the phone
showed.
"""

from __future__ import annotations

import asyncio
import atexit
import codecs
import contextlib
import functools
import os
import re
import shlex
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from simulators.protocol.errors import PairsimError

PROJECT = "login-service"
LOGIN_FILE = "src/login.py"
LOGIN_TEST = "tests/test_login.py"
DRAWING_TOOL = "tools/draw_login_flow.py"
MAIN_BRANCH = "main"
SEED_FILES: dict[str, str] = {
    "README.md": "# login-service\n\nSigns people in to the demo service.\n",
    LOGIN_FILE: (
        '"""Signing in to the demo service."""\n'
        "\n"
        "TIMEOUT = 1  # seconds to wait for the service to answer\n"
        "\n"
        "\n"
        "def login(user: str, password: str) -> bool:\n"
        "    return bool(user and password)\n"
    ),
    # The second test takes half a second after the first one's result is printed (and flushed: unittest -v does),
    # so a run's output streams while the command still runs, whatever order a daemon sends its last chunk and the
    # command's end in; with one instant test the phone could get all of it only after the end.
    LOGIN_TEST: (
        "import time\n"
        "import unittest\n"
        "\n"
        "from src.login import TIMEOUT\n"
        "\n"
        "\n"
        "class LoginTimeoutTest(unittest.TestCase):\n"
        "    def test_waits_long_enough_for_the_service(self) -> None:\n"
        "        # Under load the service takes up to 3 seconds to answer: shorter waits made this test flaky.\n"
        "        self.assertGreaterEqual(TIMEOUT, 3)\n"
        "\n"
        "\n"
        "class ServiceTest(unittest.TestCase):\n"
        "    def test_the_service_answers_under_load(self) -> None:\n"
        "        time.sleep(0.5)  # the service's answer under load, shortened\n"
    ),
    # Draws the sign-in flow (three boxes joined by a line) as a PNG, with the standard library only.
    DRAWING_TOOL: (
        "import struct\n"
        "import sys\n"
        "import zlib\n"
        "\n"
        "WIDTH, HEIGHT = 96, 32\n"
        "BOXES = ((4, 28), (38, 58), (68, 92))\n"
        "\n"
        "\n"
        "def pixel(x: int, y: int) -> bytes:\n"
        "    inside = any(left <= x < right for left, right in BOXES) and 8 <= y < 24\n"
        "    on_line = y == 16 and BOXES[0][0] <= x < BOXES[-1][1]\n"
        "    return b\"\\x1f\\x6f\\xeb\" if inside else b\"\\x33\\x33\\x33\" if on_line else b\"\\xff\\xff\\xff\"\n"
        "\n"
        "\n"
        "def chunk(kind: bytes, data: bytes) -> bytes:\n"
        "    return struct.pack(\">I\", len(data)) + kind + data + struct.pack(\">I\", zlib.crc32(kind + data))\n"
        "\n"
        "\n"
        "rows = b\"\".join(b\"\\x00\" + b\"\".join(pixel(x, y) for x in range(WIDTH)) for y in range(HEIGHT))\n"
        "png = (b\"\\x89PNG\\r\\n\\x1a\\n\" + chunk(b\"IHDR\", struct.pack(\">IIBBBBB\", WIDTH, HEIGHT, 8, 2, 0, 0, 0))\n"
        "       + chunk(b\"IDAT\", zlib.compress(rows)) + chunk(b\"IEND\", b\"\"))\n"
        "with open(sys.argv[1], \"wb\") as out:\n"
        "    out.write(png)\n"
        "print(f\"Drew the login flow in {sys.argv[1]} ({WIDTH}x{HEIGHT})\")\n"
    ),
}
# The project is a git repository on `main` with the seed files committed, as a real project would be; a command
# Codex runs can leave its mark there (a new branch), which is how a scenario proves it ran or did not.
_GIT_IDENTITY = ("-c", "user.name=Dana", "-c", "user.email=dana@example.com", "-c", "commit.gpgsign=false")
_GIT_DATE = "2026-01-05T09:00:00+00:00"

COMMAND_TIMEOUT = 10.0  # seconds; the scripted command takes milliseconds
TIMEOUT_EXIT_CODE = 124  # what Codex reports for a command it killed at its timeout, as `timeout(1)` does
SIGNAL_EXIT_BASE = 128  # a process killed by signal N exits 128 + N, as a shell reports it

_HUNK_HEADER = re.compile(r"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_NO_NEWLINE = "\\ No newline at end of file"


class EditNotApplied(PairsimError):
    """A diff that does not apply to the file as it is on disk, or a file that cannot be read or written; the
    file is left as it was."""


class CommandNotStarted(PairsimError):
    """The Mac could not start the process at all (no such program, no such working directory)."""


@dataclass(frozen=True)
class CommandRun:
    """One process the Mac spawned for the agent, recorded by the code that spawned it once the process ended."""

    command: str  # exactly what ran: the argument vector, joined as a shell would quote it
    cwd: str
    exit_code: int
    output: str  # stdout and stderr, interleaved as the process wrote them
    duration_ms: int
    pid: int | None = None  # the process's id on the Mac (a client shows it as the item's `processId`)


@dataclass
class Workspace:
    """The agent's project folder on one Mac, and the record of every process the agent ran on that Mac."""

    root: Path
    commands_run: list[CommandRun] = field(default_factory=list)

    def __post_init__(self) -> None:
        # Threads report it as their `cwd`: a client must get a path that means the same thing from anywhere.
        self.root = self.root.absolute()

    @classmethod
    def seed(cls, root: Path) -> Workspace:
        """The tiny project at `root`, written afresh: each daemon start (and each world) begins from the same
        files on `main`, so the scripted edit applies."""
        workspace = cls(root)
        if workspace.root.exists():
            shutil.rmtree(workspace.root)
        workspace.root.parent.mkdir(parents=True, exist_ok=True)
        # Copied from one repository made per process: git takes tens of milliseconds per call, and every world
        # seeds a project.
        shutil.copytree(_seeded_repository(), workspace.root, symlinks=True)
        return workspace

    def branch(self) -> str | None:
        """The branch the project is on, read from the repository on disk (None: not on a branch)."""
        try:
            head = (self.root / ".git" / "HEAD").read_text(encoding="utf-8").strip()
        except OSError:
            return None
        prefix = "ref: refs/heads/"
        return head.removeprefix(prefix) if head.startswith(prefix) else None

    async def run(self, argv: Sequence[str], cwd: str, *, timeout: float = COMMAND_TIMEOUT,
                  on_output: Callable[[str], Awaitable[None]] | None = None) -> CommandRun:
        """Run `argv` in `cwd` as a child process in its own process group, with no shell and no input; kill the
        group at `timeout`. `on_output` gets the output as it arrives, chunk by chunk (what a client sees stream).
        Raises `CommandNotStarted` when nothing could be started (and records nothing)."""
        started = time.monotonic()
        try:
            process = await asyncio.create_subprocess_exec(
                *argv,
                cwd=cwd,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as exc:
            raise CommandNotStarted(f"could not run {shlex.join(argv)} in {cwd}: {exc.strerror}") from exc
        assert process.stdout is not None
        output = asyncio.ensure_future(_collect(process.stdout, on_output))
        timed_out = False
        try:
            await asyncio.wait_for(process.wait(), timeout)
        except TimeoutError:
            timed_out = True
        except asyncio.CancelledError:
            output.cancel()
            raise
        finally:
            # On a timeout, or when the turn is cancelled mid-run: nothing the agent started outlives it, and the
            # whole group goes so that no grandchild keeps the output pipe open.
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                await process.wait()
        returncode = process.returncode
        assert returncode is not None
        if timed_out:
            exit_code = TIMEOUT_EXIT_CODE
        elif returncode < 0:
            exit_code = SIGNAL_EXIT_BASE - returncode
        else:
            exit_code = returncode
        run = CommandRun(
            command=shlex.join(argv),
            cwd=cwd,
            exit_code=exit_code,
            output=await output,
            duration_ms=round((time.monotonic() - started) * 1000),
            pid=process.pid,
        )
        self.commands_run.append(run)
        return run

    def apply(self, path: Path, diff: str) -> None:
        """Apply `diff` to the file at `path`, or raise `EditNotApplied` and leave the file untouched."""
        try:
            before = path.read_bytes().decode("utf-8")
        except OSError as exc:
            raise EditNotApplied(f"cannot read {path}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise EditNotApplied(f"{path} is not UTF-8 text") from exc
        after = apply_unified_diff(before, diff)
        # Written beside it and renamed over it: a reader never sees half a file, and a failed write leaves it whole.
        staging = path.with_name(f".{path.name}.pairsim-edit")
        try:
            staging.write_bytes(after.encode("utf-8"))
            os.replace(staging, path)
        except OSError as exc:
            staging.unlink(missing_ok=True)
            raise EditNotApplied(f"cannot write {path}: {exc.strerror}") from exc


async def _collect(stream: asyncio.StreamReader, on_output: Callable[[str], Awaitable[None]] | None) -> str:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    parts: list[str] = []
    while chunk := await stream.read(4096):
        text = decoder.decode(chunk)
        if text:
            parts.append(text)
            if on_output is not None:
                await on_output(text)
    tail = decoder.decode(b"", final=True)
    if tail:
        parts.append(tail)
        if on_output is not None:
            await on_output(tail)
    return "".join(parts)


@functools.cache
def _seeded_repository() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="pairsim-seed-project-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    for relative, text in SEED_FILES.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))
    environment = {**os.environ, "GIT_AUTHOR_DATE": _GIT_DATE, "GIT_COMMITTER_DATE": _GIT_DATE,
                   "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    for command in (("init", "-q", "-b", MAIN_BRANCH), ("add", "-A"), ("commit", "-q", "-m", "The login service")):
        subprocess.run(["git", *_GIT_IDENTITY, *command], cwd=folder, env=environment, check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return folder


def apply_unified_diff(text: str, diff: str) -> str:
    """`text` with every hunk of the unified diff `diff` applied, in order.

    Strict, as `git apply` without fuzz: every context and removed line must equal the file's line at the hunk's
    stated position, and each hunk's line counts must match its header. Optional `---`/`+++` file headers are
    skipped. Anything else raises `EditNotApplied`.
    """
    old = _lines(text)
    patch = _lines(diff)
    index = 0
    while index < len(patch) and patch[index].startswith(("--- ", "+++ ")):
        index += 1
    if index == len(patch):
        raise EditNotApplied("the diff has no hunk")
    new: list[str] = []
    position = 0  # the next line of `old` not yet copied or consumed
    while index < len(patch):
        header = _HUNK_HEADER.match(patch[index])
        if header is None:
            raise EditNotApplied(f"line {index + 1} of the diff is not a hunk header: {patch[index].rstrip()!r}")
        old_start, old_count, new_count = int(header[1]), _count(header[2]), _count(header[4])
        index += 1
        # A hunk that removes nothing names the line it goes after; any other names its first line.
        start = old_start if old_count == 0 else old_start - 1
        if start < position or start > len(old):
            raise EditNotApplied(f"a hunk starts at line {old_start}, outside the file or before the previous hunk")
        new.extend(old[position:start])
        position = start
        seen_old = seen_new = 0
        while index < len(patch) and not patch[index].startswith("@@"):
            tag, body = patch[index][:1], patch[index][1:]
            if tag not in (" ", "-", "+"):
                raise EditNotApplied(f"line {index + 1} of the diff is not a context, removed or added line")
            index += 1
            if index < len(patch) and patch[index].rstrip("\n") == _NO_NEWLINE:
                body = body.removesuffix("\n")
                index += 1
            if tag != "+":
                if position >= len(old) or old[position] != body:
                    raise EditNotApplied(f"line {position + 1} of the file does not match the diff")
                position += 1
                seen_old += 1
            if tag != "-":
                new.append(body)
                seen_new += 1
        if (seen_old, seen_new) != (old_count, new_count):
            raise EditNotApplied(
                f"a hunk's header says -{old_count} +{new_count} lines, its body has -{seen_old} +{seen_new}"
            )
    new.extend(old[position:])
    return "".join(new)


def _count(group: str | None) -> int:
    return 1 if group is None else int(group)


def _lines(text: str) -> list[str]:
    """Lines with their newline kept, split on "\\n" only (as diff tools count lines)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
