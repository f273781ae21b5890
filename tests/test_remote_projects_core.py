"""The sans-I/O core of SSH remote projects: which aliases discovery collects, what the probe and start commands
are and how their answers read, and which words each failure gets. The commands also run through the real shells
here (bash, zsh, tcsh), since a shell reading them is exactly what breaks in the field."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from simulators import messages
from simulators.remote_projects import bootstrap
from simulators.remote_projects.failures import Cause, Failure, fixed_message, legacy_message, ssh_cause
from simulators.remote_projects.ssh_config import DiscoveryFailed, ResolvedHost, collect_aliases

HOME = "/home/dana"


def _files(files: dict[str, str]):  # type: ignore[no-untyped-def]
    def read(path: str) -> str:
        if path not in files:
            raise FileNotFoundError(2, "No such file or directory", path)
        return files[path]

    def listdir(directory: str) -> list[str]:
        prefix = directory.rstrip("/") + "/"
        names = [p[len(prefix):] for p in files if p.startswith(prefix) and "/" not in p[len(prefix):]]
        if not names:
            raise FileNotFoundError(2, "No such file or directory", directory)
        return names

    return read, listdir


def test_discovery_collects_concrete_aliases_once_in_file_order() -> None:
    read, listdir = _files({f"{HOME}/.ssh/config": (
        "Host *\n  ServerAliveInterval 30\nHost devbox gpu-1 *.corp !bastion\n  HostName 10.0.0.2\n"
        "# Host commented\nHost=gpu-1\nHost build?\nHost lab\n")})
    for follow in (False, True):
        collected = collect_aliases(f"{HOME}/.ssh/config", home=HOME, read=read, listdir=listdir,
                                    follow_openssh=follow)
        assert collected.aliases == ["devbox", "gpu-1", "lab"]


def test_no_ssh_config_is_no_hosts_not_a_failure() -> None:
    read, listdir = _files({})
    assert collect_aliases(f"{HOME}/.ssh/config", home=HOME, read=read, listdir=listdir,
                           follow_openssh=False).aliases == []


@pytest.mark.parametrize("include", ["~/.orbstack/ssh/config", "config.d/*"])
def test_legacy_discovery_fails_on_an_include_ssh_would_skip_or_resolve(include: str) -> None:
    read, listdir = _files({f"{HOME}/.ssh/config": f"Include {include}\nHost devbox\n",
                            f"{HOME}/.ssh/config.d/work": "Host buildbox\n"})
    with pytest.raises(DiscoveryFailed, match="No such file or directory"):
        collect_aliases(f"{HOME}/.ssh/config", home=HOME, read=read, listdir=listdir, follow_openssh=False)


def test_fixed_discovery_follows_include_as_openssh_does() -> None:
    read, listdir = _files({
        f"{HOME}/.ssh/config": "Include ~/.orbstack/ssh/config config.d/*\nHost devbox\n",
        f"{HOME}/.ssh/config.d/b-work": "Host buildbox\nInclude /etc/ssh/extra\n",
        f"{HOME}/.ssh/config.d/a-home": "Host nas\n",
        "/etc/ssh/extra": "Host jump\n",
    })
    collected = collect_aliases(f"{HOME}/.ssh/config", home=HOME, read=read, listdir=listdir, follow_openssh=True)
    assert collected.aliases == ["nas", "buildbox", "jump", "devbox"]  # glob order, then the file's own hosts
    assert collected.skipped_includes == [f"{HOME}/.orbstack/ssh/config"]


def test_an_include_loop_ends_in_a_typed_failure() -> None:
    read, listdir = _files({f"{HOME}/.ssh/config": f"Include {HOME}/.ssh/config\n"})
    with pytest.raises(DiscoveryFailed, match="nested deeper"):
        collect_aliases(f"{HOME}/.ssh/config", home=HOME, read=read, listdir=listdir, follow_openssh=False)


def test_ssh_g_output_reads_host_user_port_and_remote_command() -> None:
    resolved = ResolvedHost.from_ssh_g("devbox", "user dana\nhostname 10.14.55.3\nport 2200\nremotecommand echo hi\n")
    assert (resolved.hostname, resolved.user, resolved.port, resolved.remote_command) == (
        "10.14.55.3", "dana", 2200, "echo hi")
    assert ResolvedHost.from_ssh_g("x", "remotecommand none\n").remote_command is None


@pytest.mark.parametrize(("stdout", "result", "path"), [
    ("codex_path=/home/dana/.local/bin/codex\n", bootstrap.ProbeResult.FOUND, "/home/dana/.local/bin/codex"),
    ("Welcome to devbox!\ncodex_path=/usr/bin/codex\n", bootstrap.ProbeResult.FOUND, "/usr/bin/codex"),
    ("codex_path=\n", bootstrap.ProbeResult.NOT_FOUND, None),
    ("codex_path=codex: Command not found.\n", bootstrap.ProbeResult.NOT_FOUND, None),
    ("", bootstrap.ProbeResult.SHELL_ERROR, None),
])
def test_probe_answers(stdout: str, result: bootstrap.ProbeResult, path: str | None) -> None:
    answer = bootstrap.read_probe(0, stdout, "")
    assert (answer.result, answer.codex_path) == (result, path)


def test_fixed_commands_are_one_line_that_csh_passes_through() -> None:
    for command in (bootstrap.fixed_probe("~/bin"), bootstrap.start_command("/home/dana/bin/codex")):
        assert "\n" not in command
    inner = bootstrap.fixed_probe("~/bin").removeprefix("exec /bin/sh -c '").removesuffix("'")
    assert "'" not in inner  # the single quotes around it stay balanced for every shell that reads it


@pytest.mark.parametrize("bad", ['~/bin"; rm -rf ~; "', "$(whoami)", "a`b`", "it's"])
def test_an_install_dir_the_shell_would_interpret_is_refused(bad: str) -> None:
    with pytest.raises(bootstrap.BadInstallDir):
        bootstrap.fixed_probe(bad)
    with pytest.raises(bootstrap.BadInstallDir):
        bootstrap.start_command(bad)


def _shell(shell: str, command: str, home: Path) -> subprocess.CompletedProcess[str]:
    """`command` as sshd runs it: `<login shell> -c <command>`, with the person's HOME and SHELL."""
    env = {"HOME": str(home), "SHELL": shell, "PATH": "/usr/bin:/bin"}
    return subprocess.run([shell, "-c", command], capture_output=True, text=True, env=env, timeout=30, check=False,
                          cwd=home, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("shell", ["/bin/bash", "/usr/bin/zsh", "/usr/bin/tcsh"])
def test_the_fixed_probe_finds_codex_through_every_login_shell(shell: str, tmp_path: Path) -> None:
    (tmp_path / "bin").mkdir()
    codex = tmp_path / "bin" / "codex"
    codex.write_text("#!/bin/sh\n")
    codex.chmod(0o755)
    rc = {"/bin/bash": (".bashrc", 'PATH="$HOME/bin:$PATH"\n'), "/usr/bin/zsh": (".zshrc", 'PATH="$HOME/bin:$PATH"\n'),
          "/usr/bin/tcsh": (".cshrc", "set path = ( $HOME/bin $path )\n")}[shell]
    (tmp_path / rc[0]).write_text(rc[1])
    (tmp_path / ".profile").write_text('. "$HOME/.bashrc"\n')  # as Debian's .profile does for bash
    answer = _shell(shell, bootstrap.fixed_probe(), tmp_path)
    assert bootstrap.read_probe(answer.returncode, answer.stdout, answer.stderr).codex_path == str(codex), answer


def test_the_fixed_probe_honours_codex_install_dir_before_any_shell(tmp_path: Path) -> None:
    (tmp_path / "tools").mkdir()
    (tmp_path / "tools" / "codex").write_text("#!/bin/sh\n")
    (tmp_path / "tools" / "codex").chmod(0o755)
    answer = _shell("/bin/bash", bootstrap.fixed_probe("~/tools"), tmp_path)
    assert bootstrap.read_probe(0, answer.stdout, "").codex_path == f"{tmp_path}/tools/codex"


def test_tcsh_reads_the_legacy_probe_as_its_own(tmp_path: Path) -> None:
    answer = _shell("/usr/bin/tcsh", bootstrap.LEGACY_PROBE, tmp_path)
    assert bootstrap.read_probe(answer.returncode, answer.stdout, answer.stderr).result is \
        bootstrap.ProbeResult.SHELL_ERROR
    assert "fi: Command not found." in answer.stderr.splitlines()
    assert "Unknown option: `-l'" in answer.stderr.splitlines()
    assert "Unmatched '''." in answer.stderr.splitlines()


def test_a_bourne_login_shell_reads_the_legacy_probe(tmp_path: Path) -> None:
    codex = tmp_path / ".local" / "bin" / "codex"
    codex.parent.mkdir(parents=True)
    codex.write_text("#!/bin/sh\n")
    codex.chmod(0o755)
    (tmp_path / ".profile").write_text('PATH="$HOME/.local/bin:$PATH"\n')
    answer = _shell("/bin/bash", bootstrap.LEGACY_PROBE, tmp_path)
    assert bootstrap.read_probe(answer.returncode, answer.stdout, answer.stderr).codex_path == str(codex), answer


def test_the_start_command_reports_an_app_server_that_exits(tmp_path: Path) -> None:
    fake = tmp_path / "codex"
    fake.write_text("#!/bin/sh\necho 'Error: Address in use (os error 98)' >&2\nexit 1\n")
    fake.chmod(0o755)
    command = bootstrap.start_command(str(fake)).replace(bootstrap.APP_SERVER_LOG, str(tmp_path / "app.log"))
    answer = _shell("/bin/bash", command, tmp_path)
    assert bootstrap.read_start(answer.stdout) is bootstrap.StartResult.EXITED
    assert bootstrap.log_cause((tmp_path / "app.log").read_text()) == "Error: Address in use (os error 98)"
    assert os.path.exists(tmp_path / "app.log")


@pytest.mark.parametrize(("stderr", "cause"), [
    ("Host key verification failed.\r\n", Cause.HOST_KEY_UNKNOWN),
    ("@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n...\nHost key verification failed.\n",
     Cause.HOST_KEY_CHANGED),
    ("dana@10.14.55.3: Permission denied (publickey).\n", Cause.PUBLICKEY_REFUSED),
    ("Cannot execute command-line and remote command.\n", Cause.REMOTE_COMMAND),
    ("ssh: connect to host 10.14.55.3 port 22: Connection refused\n", Cause.SSH_OTHER),
])
def test_ssh_failures_are_told_apart(stderr: str, cause: Cause) -> None:
    assert ssh_cause(stderr) is cause


def test_legacy_shows_the_layers_words_and_fixed_names_the_cause() -> None:
    refused = Failure(Cause.PUBLICKEY_REFUSED, "devbox", "dana@10.14.55.3: Permission denied (publickey).\n",
                      host="devbox", user="dana")
    assert legacy_message(refused) == "dana@10.14.55.3: Permission denied (publickey)."
    assert fixed_message(refused) == messages.DESKTOP_REMOTE_FIXED["publickey_refused"].format(
        host="devbox", user="dana", alias="devbox")
    reset = Failure(Cause.APP_SERVER_EXITED, "devbox", "/usr/bin/env: 'node': No such file or directory")
    assert legacy_message(reset) == messages.DESKTOP_REMOTE_CONNECTION_RESET
    assert "/usr/bin/env: 'node': No such file or directory" in fixed_message(reset)
    assert legacy_message(Failure(Cause.CODEX_NOT_FOUND, "devbox")) == messages.DESKTOP_REMOTE_CODEX_NOT_FOUND


@pytest.mark.parametrize("cause", sorted(messages.DESKTOP_REMOTE_FIXED))
def test_every_fixed_message_is_a_cause_and_fills(cause: str) -> None:
    text = fixed_message(Failure(Cause(cause), "devbox", "a cause", host="devbox", user="dana", shell="zsh",
                                 port=9234))
    assert "{" not in text and text.endswith(".")
