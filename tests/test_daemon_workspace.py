"""The Mac's project folder: the seeded project, real child processes and their record, and strict diffs."""

from __future__ import annotations

import asyncio
import difflib
import os
import shlex
import subprocess
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulators.daemon.workspace import (
    LOGIN_FILE,
    SEED_FILES,
    TIMEOUT_EXIT_CODE,
    CommandNotStarted,
    EditNotApplied,
    Workspace,
    apply_unified_diff,
)

T = TypeVar("T")

# ------------------------------------------------------------------------------------------------------------
# Seeding


def test_seeding_writes_the_project_afresh(tmp_path: Path) -> None:
    root = tmp_path / "workspace" / "login-service"
    Workspace.seed(root)
    (root / LOGIN_FILE).write_text("edited by an earlier run\n")
    workspace = Workspace.seed(root)
    assert workspace.root == root and workspace.commands_run == []
    on_disk = {str(p.relative_to(root)): p.read_text() for p in root.rglob("*")
               if p.is_file() and ".git" not in p.relative_to(root).parts}
    assert on_disk == SEED_FILES
    # A git repository on `main`, everything committed: a command that changes branch leaves its mark.
    assert workspace.branch() == "main"
    status = subprocess.run(["git", "status", "--porcelain"], cwd=root, capture_output=True, text=True, check=True)
    assert status.stdout == ""


# ------------------------------------------------------------------------------------------------------------
# Running a command


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, 20))


def test_a_command_runs_in_its_folder_and_is_recorded(tmp_path: Path) -> None:
    workspace = Workspace.seed(tmp_path)
    argv = [sys.executable, "-c", "import os, sys; print(os.getcwd()); print('oops', file=sys.stderr); sys.exit(3)"]
    record = run(workspace.run(argv, str(tmp_path / "src")))
    assert record.command == shlex.join(argv) and record.cwd == str(tmp_path / "src")
    assert record.exit_code == 3
    assert record.output.splitlines() == [str((tmp_path / "src").resolve()), "oops"]
    assert workspace.commands_run == [record]


def test_a_command_killed_by_a_signal_exits_128_plus_the_signal(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    record = run(workspace.run([sys.executable, "-c", "import os, signal; os.kill(os.getpid(), signal.SIGTERM)"],
                               str(tmp_path)))
    assert record.exit_code == 128 + 15


def test_a_command_that_outlives_its_timeout_is_killed_with_its_children(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    # The child starts a grandchild that holds the output pipe open; both must go, or reading the output hangs.
    script = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); print('started', flush=True); time.sleep(60)"
    record = run(workspace.run([sys.executable, "-c", script], str(tmp_path), timeout=1.0))
    assert record.exit_code == TIMEOUT_EXIT_CODE and record.output == "started\n"
    assert 1000 <= record.duration_ms < 15_000
    assert workspace.commands_run == [record]


@pytest.mark.parametrize(
    ("argv", "cwd"),
    [(["pairsim-no-such-program"], "."), (["true"], "no-such-folder")],
    ids=["no-program", "no-folder"],
)
def test_nothing_started_raises_and_records_nothing(tmp_path: Path, argv: list[str], cwd: str) -> None:
    workspace = Workspace(tmp_path)
    with pytest.raises(CommandNotStarted):
        run(workspace.run(argv, str(tmp_path / cwd)))
    assert workspace.commands_run == []


# ------------------------------------------------------------------------------------------------------------
# Applying a diff


BEFORE = "one\ntwo\nthree\nfour\nfive\nsix\n"


def test_hunks_apply_in_order_and_other_lines_stay() -> None:
    diff = "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n-one\n+ONE\n two\n@@ -5,2 +5,3 @@\n five\n+five and a half\n six\n"
    assert apply_unified_diff(BEFORE, diff) == "ONE\ntwo\nthree\nfour\nfive\nfive and a half\nsix\n"


def test_a_hunk_that_removes_nothing_goes_after_the_line_it_names() -> None:
    assert apply_unified_diff(BEFORE, "@@ -0,0 +1 @@\n+zero\n") == "zero\n" + BEFORE
    assert apply_unified_diff("", "@@ -0,0 +1,2 @@\n+a\n+b\n") == "a\nb\n"


def test_no_newline_at_end_of_file_markers() -> None:
    diff = "@@ -6 +6 @@\n-six\n+six\n\\ No newline at end of file\n"
    assert apply_unified_diff(BEFORE, diff) == BEFORE[:-1]
    back = "@@ -6 +6 @@\n-six\n\\ No newline at end of file\n+six\n"
    assert apply_unified_diff(BEFORE[:-1], back) == BEFORE


@pytest.mark.parametrize(
    "diff",
    [
        "",
        "not a diff\n",
        "@@ -2,1 +2,1 @@\n-TWO\n+2\n",  # the removed line is not what the file says
        "@@ -1,2 +1,2 @@\n-one\n+ONE\n",  # the header counts more lines than the body has
        "@@ -9,1 +9,1 @@\n-nine\n+9\n",  # past the end of the file
        "@@ -4,1 +4,1 @@\n-four\n+4\n@@ -1,1 +1,1 @@\n-one\n+1\n",  # hunks out of order
        "@@ -1,1 +1,1 @@\n*one\n",  # not a diff line
    ],
    ids=["empty", "no-hunk", "mismatch", "short-body", "past-end", "out-of-order", "bad-line"],
)
def test_a_diff_that_does_not_apply_is_refused(diff: str) -> None:
    with pytest.raises(EditNotApplied):
        apply_unified_diff(BEFORE, diff)


def test_a_refused_edit_leaves_the_file_untouched(tmp_path: Path) -> None:
    path = tmp_path / "f.txt"
    path.write_bytes(BEFORE.encode())
    touched = path.stat().st_mtime_ns
    with pytest.raises(EditNotApplied):
        Workspace(tmp_path).apply(path, "@@ -2,1 +2,1 @@\n-TWO\n+2\n")
    assert path.read_bytes() == BEFORE.encode() and path.stat().st_mtime_ns == touched
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]
    with pytest.raises(EditNotApplied):
        Workspace(tmp_path).apply(tmp_path / "missing.txt", "@@ -0,0 +1 @@\n+a\n")


lines = st.lists(st.text(alphabet="ab \t\r", max_size=4).map(lambda s: s + "\n"), max_size=12)


@settings(deadline=None)
@given(lines, lines, st.integers(min_value=0, max_value=3))
def test_any_diff_difflib_writes_turns_the_old_text_into_the_new(old: list[str], new: list[str], context: int) -> None:
    diff = "".join(difflib.unified_diff(old, new, n=context))
    if not diff:
        assert old == new
        return
    assert apply_unified_diff("".join(old), diff) == "".join(new)


def test_the_folder_is_absolute_whatever_the_caller_passed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    workspace = Workspace.seed(Path("workspace") / "login-service")
    assert workspace.root == tmp_path / "workspace" / "login-service"
    assert (workspace.root / LOGIN_FILE).read_text() == SEED_FILES[LOGIN_FILE]


def test_a_cancelled_run_kills_the_process_and_records_nothing(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path)
    ready = tmp_path / "ready"
    os.mkfifo(ready)
    child = f"import os, time; open({str(ready)!r}, 'w').write(str(os.getpid())); time.sleep(60)"

    async def cancel_mid_run() -> int:
        running = asyncio.ensure_future(workspace.run([sys.executable, "-c", child], str(tmp_path)))
        # Opening the FIFO returns once the child has opened it to write: the process is running.
        pid = int(await asyncio.to_thread(ready.read_text))
        running.cancel()
        with pytest.raises(asyncio.CancelledError):
            await running
        return pid

    pid = run(cancel_mid_run())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped
    assert workspace.commands_run == []
