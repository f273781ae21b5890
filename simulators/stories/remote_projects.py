"""Stories of SSH remote projects: Codex on a Mac opening a project on `devbox`, a Linux host with the real codex,
over real OpenSSH between network namespaces (simulators.remote_projects). The world's Mac takes no part: the
desktop side here is the remote-projects simulator, so these stories need root (namespaces) but no daemon.

What the person reads is the connection's row in Settings › Connections (Surface.DESKTOP); when the fix opens the
project, the row says "Connected".
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from simulators import messages
from simulators.netns.remote_host import CodexPlace
from simulators.remote_projects.lab import ALIAS, RemoteProjectsLab
from simulators.reproduce import PERSON, Play, Story, Surface
from simulators.world import PairingOutcome

CONNECTED = messages.DESKTOP_REMOTE_STATUS["connected"]
_SKEL_BASHRC = Path("/etc/skel/.bashrc")
_NVM_LINES = '\nexport NVM_DIR="$HOME/.nvm"\n[ -s "$NVM_DIR/nvm.sh" ] && \\. "$NVM_DIR/nvm.sh"  # This loads nvm\n'
TCSH_PROBE_WORDS = (
    "Bad : modifier in $ '-'.\n"
    "SHELL=/bin/sh: Command not found.\n"
    "fi: Command not found.\n"
    "Unknown option: `-l'\n"
    "Usage: tcsh [ -bcdefilmnqstvVxX ] [ argument ... ].\n"
    "p=: Command not found.\n"
    "Unmatched '''.\n"
    "Unmatched '''."
)


def _open_devbox(play: Play, setup: Callable[[RemoteProjectsLab], str]) -> None:
    """Build devbox as `setup` says (it returns the sentence that tells it), connect, record the row."""
    lab = RemoteProjectsLab(play.world.root / "remote-projects", profile=play.world.profile.value)
    try:
        told = setup(lab)
        lab.open_network()
        lab.start_host()
        desktop = lab.open_desktop(lab.install_dir)
        aliases = desktop.discover()
        play.note(f"{PERSON} opens Settings › Connections on her Mac. {told}",
                  f"Desktop  {desktop.discovery_error or 'hosts: ' + ', '.join(aliases)}",
                  *(f"Desktop  log: {line}" for line in desktop.log))
        if desktop.discovery_error:
            play.record(Surface.DESKTOP, desktop.discovery_error)
            return
        row = desktop.connect(ALIAS)
        shown = f"{row.status}: {row.message}" if row.message else row.status
        play.note(f'She connects to "{ALIAS}".', f"Desktop  {ALIAS} · {shown}",
                  *(f"Desktop  log: {line}" for line in desktop.log if "discovery" not in line),
                  *(f"devbox   {APP_LOG}: {line}" for line in lab.host.app_server_log().splitlines()[-2:]
                    if lab.host is not None))
        play.record(Surface.DESKTOP, row.message or row.status, row.status)
    finally:
        lab.close()


APP_LOG = "/tmp/codex-app-server-ssh-ws-v0.log"


def _zsh_home_bin(play: Play) -> PairingOutcome | None:
    def setup(lab: RemoteProjectsLab) -> str:
        lab.account.shell = "zsh"
        lab.account.codex = CodexPlace.HOME_BIN
        lab.account.rc_files[".zshrc"] = 'export PATH="$HOME/bin:$PATH"\n'
        return "On devbox her shell is zsh; codex is in ~/bin, which her .zshrc adds to PATH."

    _open_devbox(play, setup)
    return None


def _nvm_node(play: Play) -> PairingOutcome | None:
    def setup(lab: RemoteProjectsLab) -> str:
        lab.account.system_node = False
        lab.account.codex = CodexPlace.NVM
        lab.account.codex_link = ".local/bin"
        lab.account.rc_files[".bashrc"] = _SKEL_BASHRC.read_text() + _NVM_LINES
        return ("devbox has Node only from nvm, which her .bashrc loads for interactive shells; she linked codex "
                "into ~/.local/bin.")

    _open_devbox(play, setup)
    return None


def _tcsh(play: Play) -> PairingOutcome | None:
    def setup(lab: RemoteProjectsLab) -> str:
        lab.account.shell = "tcsh"
        lab.account.rc_files[".cshrc"] = "set path = ( $HOME/.local/bin $path )\n"
        return "Her login shell on devbox is tcsh; codex is in ~/.local/bin, which her .cshrc adds to the path."

    _open_devbox(play, setup)
    return None


def _remote_command(play: Play) -> PairingOutcome | None:
    def setup(lab: RemoteProjectsLab) -> str:
        lab.config_extra = "RemoteCommand echo test\n"
        return "devbox's entry in her ~/.ssh/config has a RemoteCommand."

    _open_devbox(play, setup)
    return None


def _missing_include(play: Play) -> PairingOutcome | None:
    def setup(lab: RemoteProjectsLab) -> str:
        lab.config_head = "Include ~/.orbstack/ssh/config\n"
        return "Her ~/.ssh/config starts with an Include of a file an uninstalled tool left behind."

    _open_devbox(play, setup)
    return None


STORIES = (
    Story(
        name="ssh-codex-only-in-zshrc",
        summary="codex is in ~/bin, which only .zshrc puts on PATH; the desktop probes a login shell that skips it",
        reports=("openai/codex#19198",),
        surface=Surface.DESKTOP,
        legacy_text=messages.DESKTOP_REMOTE_CODEX_NOT_FOUND,
        fixed_text=CONNECTED,
        play=_zsh_home_bin,
        on_real_daemon=False,
    ),
    Story(
        name="ssh-node-from-nvm",
        summary="Node from nvm only in the interactive rc: the probe passes, the app-server cannot start, the "
                "socket closes; the cause is only in a log on the host",
        reports=("openai/codex#19744", "openai/codex#10450"),
        surface=Surface.DESKTOP,
        legacy_text=messages.DESKTOP_REMOTE_CONNECTION_RESET,
        fixed_text=messages.DESKTOP_REMOTE_FIXED["app_server_exited"].format(
            host=ALIAS, cause="/usr/bin/env: 'node': No such file or directory"),
        play=_nvm_node,
        on_real_daemon=False,
    ),
    Story(
        name="ssh-tcsh-login-shell",
        summary="the remote login shell is tcsh, which reads the desktop's Bourne-shell probe as its own",
        reports=("openai/codex#19302",),
        surface=Surface.DESKTOP,
        legacy_text=TCSH_PROBE_WORDS,
        fixed_text=CONNECTED,
        play=_tcsh,
        on_real_daemon=False,
    ),
    Story(
        name="ssh-remote-command",
        summary="a RemoteCommand in the host's ssh config makes ssh refuse every command the desktop sends",
        reports=("openai/codex#18322",),
        surface=Surface.DESKTOP,
        legacy_text="Cannot execute command-line and remote command.",
        fixed_text=CONNECTED,
        play=_remote_command,
        on_real_daemon=False,
    ),
    Story(
        name="ssh-discovery-include",
        summary="an Include of a missing file fails the desktop's discovery, though ssh itself skips it and works",
        reports=("openai/codex#36242",),
        surface=Surface.DESKTOP,
        legacy_text=messages.DESKTOP_REMOTE_DISCOVERY_FAILED,
        fixed_text=CONNECTED,
        play=_missing_include,
        on_real_daemon=False,
    ),
)
