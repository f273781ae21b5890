"""The remote machine of an SSH remote project: a person's account on a host of its own, with the real `codex`.

Separation beyond the network namespace: sshd runs under `unshare --mount` and, before it starts, binds the
host's own files over this machine's in that private mount namespace:

    /etc/passwd /etc/group               this machine's, plus the person's account (a real uid, not root)
    /etc/shadow                          the person's line only (no hash of this machine is copied)
    /etc/resolv.conf /etc/hosts          an offline resolver (its own loopback); public names to no route
    /home                                the host's homes: /home/<user> with the rc files a scenario writes
    /tmp                                 the host's /tmp (the app-server's log lands here)
    /mnt/pairsim-host                    sshd's own config and host key (on a tmpfs, so /mnt itself is untouched)
    /usr/bin/node                        whited out by an overlay when the host has no system Node (nvm only)

Every session sshd starts inherits that namespace, so the person's login shell reads the host's rc files and the
app-server writes the host's /tmp, while nothing on this machine changes. The real `codex` is installed as
`npm install -g --prefix <dir>` lays it out (`<dir>/bin/codex` -> `../lib/node_modules/@openai/codex/bin/codex.js`),
its `@openai` folder bound from the pinned install in tools/real-daemon (the once-per-checkout npm install), so a
scenario copies nothing: the launcher's `#!/usr/bin/env node` and the login shell's PATH are the person's, exactly as on a
real host.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from simulators.netns.hosts import Network
from simulators.netns.processes import ManagedProcess, ProcessFailed, listening_ports
from simulators.netns.ssh import PRIVSEP_DIR, SSHD, SshSetupFailed

_PROJECT_ROOT = Path(__file__).resolve().parents[2]
CODEX_PACKAGE = _PROJECT_ROOT / "tools" / "real-daemon" / "node_modules" / "@openai" / "codex"
SYSTEM_NODE = Path("/usr/bin/node")
SKELETON = Path("/etc/skel")
NVM_NODE_VERSION = "v20.20.2"
SSH_PORT = 22  # the host's own namespace: nothing else listens there
HOST_DIR_IN_NAMESPACE = Path("/mnt/pairsim-host")
APP_SERVER_LOG = "/tmp/codex-app-server-ssh-ws-v0.log"
READY_TIMEOUT = 10.0
UNROUTED = "192.0.2.1"  # TEST-NET-1: never routed
OFFLINE_NAMES = ("chatgpt.com", "api.openai.com", "auth.openai.com", "ab.chatgpt.com")
SHELLS = {"bash": "/bin/bash", "zsh": "/usr/bin/zsh", "tcsh": "/usr/bin/tcsh", "csh": "/usr/bin/csh"}


class CodexPlace(StrEnum):
    """Where the person installed `codex`, as a scenario names it."""

    LOCAL_BIN = "~/.local/bin"  # on everyone's PATH: .profile adds it when it exists (Debian's default .profile)
    HOME_BIN = "~/bin"  # `npm install -g --prefix ~`; only the rc file that says so puts it on PATH
    NVM = "nvm"  # `npm install -g` with nvm's Node: ~/.nvm/versions/node/<v>/bin, added by the interactive rc
    NOWHERE = "nowhere"


@dataclass
class RemoteAccount:
    """The person's account on the host: name, uid, login shell, rc files (name -> text) and where codex is."""

    user: str = "dana"
    uid: int = 4101
    shell: str = "bash"
    rc_files: dict[str, str] = field(default_factory=dict)
    codex: CodexPlace = CodexPlace.LOCAL_BIN
    system_node: bool = True
    authorized: bool = True  # whether the Mac's public key is in ~/.ssh/authorized_keys
    codex_link: str | None = None  # a folder (relative to the home) where the person symlinked codex, if any

    @property
    def home(self) -> str:
        return f"/home/{self.user}"

    @property
    def shell_path(self) -> str:
        return SHELLS[self.shell]

    def codex_prefix(self) -> str | None:
        """The `npm --prefix` directory the install used, relative to the home."""
        return {
            CodexPlace.LOCAL_BIN: ".local",
            CodexPlace.HOME_BIN: ".",
            CodexPlace.NVM: f".nvm/versions/node/{NVM_NODE_VERSION}",
            CodexPlace.NOWHERE: None,
        }[self.codex]


def _keygen(path: Path, comment: str) -> None:
    result = subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                            capture_output=True, text=True, check=False, timeout=30)
    if result.returncode != 0:
        raise SshSetupFailed(f"ssh-keygen failed: {result.stderr.strip()}")


class RemoteHost:
    """`devbox`: sshd on the remote namespace, in a mount namespace of its own, serving one person's account."""

    def __init__(self, network: Network, directory: Path, account: RemoteAccount, *, authorized_key: str) -> None:
        self.network = network
        self.host = network.remote
        self.account = account
        self.directory = directory
        self.root = directory / "root"  # what the host's own files are, on this machine's disk
        self.config_dir = directory / "sshd"
        self.host_key = self.config_dir / "ssh_host_ed25519_key"
        self._authorized_key = authorized_key
        self.process: ManagedProcess | None = None

    # --------------------------------------------------------------------------------------------- build

    @property
    def home(self) -> Path:
        return self.root / "home" / self.account.user

    def public_host_key(self) -> str:
        return self.host_key.with_suffix(".pub").read_text().strip()

    def _write_account(self) -> None:
        account = self.account
        etc = self.root / "etc"
        etc.mkdir(parents=True)
        passwd = Path("/etc/passwd").read_text()
        group = Path("/etc/group").read_text()
        # `*`: no password, yet not locked, so sshd (UsePAM no) lets the key in; `!` would lock the account.
        (etc / "passwd").write_text(
            passwd + f"{account.user}:x:{account.uid}:{account.uid}:{account.user}:{account.home}:"
            f"{account.shell_path}\n")
        (etc / "group").write_text(group + f"{account.user}:x:{account.uid}:\n")
        # Only the person's line: this machine's password hashes are never copied anywhere.
        shadow = etc / "shadow"
        shadow.touch(mode=0o640)
        shadow.write_text(f"{account.user}:*:20000:0:99999:7:::\n")
        # An offline host: its resolver asks its own loopback, where nothing answers, so a name lookup fails at
        # once instead of waiting for this machine's nameserver, which the host's network cannot reach.
        (etc / "resolv.conf").write_text("nameserver 127.0.0.1\n")
        # Codex's own lookup of chatgpt.com (its model-list refresh) still waited 5 s there, twice, holding
        # thread/start 10 s: the public names it calls resolve here, as on a host without the Internet, to an
        # address it has no route to, so the connection fails at once.
        (etc / "hosts").write_text("127.0.0.1 localhost\n" + "".join(f"{UNROUTED} {name}\n" for name in OFFLINE_NAMES))
        tmp = self.root / "tmp"
        tmp.mkdir()
        tmp.chmod(0o1777)

    def _write_home(self) -> None:
        account = self.account
        home = self.home
        # `useradd -m`: the distribution's skeleton first, then what the scenario says the person wrote.
        shutil.copytree(SKELETON, home, symlinks=True)
        (home / ".ssh").mkdir()
        if account.authorized:
            (home / ".ssh" / "authorized_keys").write_text(self._authorized_key + "\n")
        for name, text in account.rc_files.items():
            (home / name).write_text(text)
        prefix = account.codex_prefix()
        if prefix is not None:
            self._install_codex(home / prefix)
        if account.codex is CodexPlace.NVM:
            # nvm's own script stands in for nvm.sh: it puts the default Node's bin folder on PATH when sourced.
            (home / ".nvm" / "nvm.sh").write_text(
                f'export PATH="$NVM_DIR/versions/node/{NVM_NODE_VERSION}/bin:$PATH"\n')
        if account.codex_link is not None and prefix is not None:
            folder = home / account.codex_link
            folder.mkdir(parents=True, exist_ok=True)
            (folder / "codex").symlink_to(f"{account.home}/{prefix}/bin/codex".replace("/./", "/"))
        if account.codex is CodexPlace.NVM:
            # nvm's Node: the real binary, bound over this placeholder inside the host's namespace (no copy).
            node = home / prefix / "bin" / "node"  # type: ignore[operator]
            node.touch()
            node.chmod(0o755)
        (home / ".ssh").chmod(0o700)
        home.chmod(0o755)
        for path in [home, *home.rglob("*")]:
            os.lchown(path, account.uid, account.uid)

    @staticmethod
    def _install_codex(prefix: Path) -> None:
        """The layout `npm install -g --prefix <prefix> @openai/codex@0.169.0` leaves. `lib/node_modules/@openai`
        is an empty folder here: the pinned install's (the package and its native sibling) is bound over it inside
        the host's namespace. A symlink would name a path on this machine, which the host's own /tmp hides when
        the checkout lives under /tmp."""
        if not (CODEX_PACKAGE / "bin" / "codex.js").exists():
            raise SshSetupFailed(f"the pinned codex package is not installed at {CODEX_PACKAGE}; run `make install`")
        (prefix / "lib" / "node_modules" / "@openai").mkdir(parents=True, exist_ok=True)
        (prefix / "bin").mkdir(parents=True, exist_ok=True)
        (prefix / "bin" / "codex").symlink_to("../lib/node_modules/@openai/codex/bin/codex.js")

    def _write_sshd(self) -> None:
        self.config_dir.mkdir(parents=True)
        _keygen(self.host_key, "devbox")
        inside = HOST_DIR_IN_NAMESPACE
        (self.config_dir / "sshd_config").write_text("\n".join([
            f"ListenAddress {self.host.address}:{SSH_PORT}",
            f"HostKey {inside / self.host_key.name}",
            f"PidFile {inside / 'sshd.pid'}",
            "AuthorizedKeysFile .ssh/authorized_keys",
            "PermitRootLogin no",
            "PubkeyAuthentication yes",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "AllowTcpForwarding yes",
            "GatewayPorts no",
            "UsePAM no",
            "PrintMotd no",
            "PrintLastLog no",
            "LogLevel VERBOSE",
            "",
        ]))

    def _namespace_script(self) -> str:
        """What runs in the host's fresh mount namespace before sshd: bind the host's files into place."""
        q = shlex.quote
        lines = [
            "set -e",
            "mount -t tmpfs -o mode=0755 pairsim-host /mnt",
            f"mkdir {q(str(HOST_DIR_IN_NAMESPACE))}",
            f"mount --bind {q(str(self.config_dir))} {q(str(HOST_DIR_IN_NAMESPACE))}",
        ]
        for name in ("passwd", "group", "shadow", "resolv.conf", "hosts"):
            lines.append(f"mount --bind {q(str(self.root / 'etc' / name))} /etc/{name}")
        lines.append(f"mount --bind {q(str(self.root / 'home'))} /home")
        prefix = self.account.codex_prefix()
        if prefix is not None:
            scope = f"{self.account.home}/{prefix}/lib/node_modules/@openai".replace("/./", "/")
            lines.append(f"mount --bind {q(str(CODEX_PACKAGE.resolve().parent))} {q(scope)}")
        if self.account.codex is CodexPlace.NVM:
            lines.append(f"mount --bind {SYSTEM_NODE} {q(f'{self.account.home}/{prefix}/bin/node')}")
        if not self.account.system_node:
            # A character device 0/0 in an upper layer is overlayfs's whiteout: /usr/bin without `node`.
            whiteouts = self.directory / "usr-bin-whiteouts"
            lines += [
                f"mkdir -p {q(str(whiteouts))}",
                f"mknod {q(str(whiteouts / 'node'))} c 0 0",
                f"mount -t overlay pairsim-usr-bin -o lowerdir={whiteouts}:/usr/bin /usr/bin",
            ]
        # /tmp last: the paths above (a pytest tmp_path) live under this machine's /tmp.
        lines.append(f"mount --bind {q(str(self.root / 'tmp'))} /tmp")
        lines.append(f"exec {SSHD} -D -e -f {q(str(HOST_DIR_IN_NAMESPACE / 'sshd_config'))}")
        return "\n".join(lines)

    def start(self) -> RemoteHost:
        self._write_account()
        self._write_home()
        self._write_sshd()
        PRIVSEP_DIR.mkdir(mode=0o755, exist_ok=True)
        argv = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", self._namespace_script()]
        self.process = self.network.spawn(self.host, "devbox-sshd", argv)
        try:
            self.process.wait_listening(SSH_PORT, timeout=READY_TIMEOUT)
        except ProcessFailed as exc:
            raise SshSetupFailed(f"devbox's sshd did not start: {self.process.output()[-800:]}") from exc
        return self

    # --------------------------------------------------------------------------------------------- read

    def sshd_log(self) -> str:
        return self.process.output() if self.process else ""

    def app_server_log(self) -> str:
        """The remote's `/tmp/codex-app-server-ssh-ws-v0.log`, read from the host's /tmp."""
        path = self.root / APP_SERVER_LOG.lstrip("/")
        return path.read_text(errors="replace") if path.exists() else ""

    def processes_listening(self, port: int) -> list[int]:
        """The pids on devbox holding a listening socket on `port` (read from /proc: no tool runs for it)."""
        found = subprocess.run(["ip", "netns", "pids", self.host.netns], capture_output=True, text=True,
                               check=False, timeout=30).stdout.split()
        return [int(pid) for pid in found if port in listening_ports(int(pid))]

    def occupy_port(self, port: int) -> ManagedProcess:
        """Another program of the person's listens on `port` of the host's loopback (a stale server, say)."""
        code = (
            "import socket,sys\n"
            "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
            f"s.bind(('127.0.0.1', {port})); s.listen(8); print('listening', flush=True)\n"
            "while True:\n"
            "    c,_=s.accept(); c.sendall(b'HTTP/1.1 404 Not Found\\r\\ncontent-length: 0\\r\\n\\r\\n'); c.close()\n"
        )
        process = self.network.spawn(self.host, "devbox-port-holder", ["python3", "-c", code])
        process.wait_listening(port, timeout=READY_TIMEOUT)
        return process
