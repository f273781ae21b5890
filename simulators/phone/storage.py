"""What the phone app keeps on the phone, so that it outlives the app's process: its device key (in the keychain)
and, per paired computer, the pairing link, the ChatGPT sign-in, the client credentials and the chats it last
listed. Whatever the app holds only in memory (open sockets, screens, a sign-in in progress) is gone when the app
is killed; what is here comes back when it is launched again.

Two files in the phone's folder, each written whole and with mode 0600 from its first byte: `keychain.pem` (the
device key; `simulators.protocol.device_key`) and `connections.json`. They hold secrets, so a world removes the
folder when it stops (`PhoneStorage.erase`).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulators.protocol.device_key import DeviceKey
from simulators.protocol.errors import PairsimError
from simulators.protocol.pairing_link import PairingLink, parse_pairing_link

KEYCHAIN_FILE = "keychain.pem"
CONNECTIONS_FILE = "connections.json"
FORMAT_VERSION = 1


class StorageUnreadable(PairsimError):
    """The phone's stored connections are not what this app writes (another version, or damaged)."""


@dataclass(frozen=True)
class StoredHost:
    """One paired computer as the app stores it. The credentials are kept as the wire gave them."""

    name: str
    link: PairingLink = field(repr=False)
    tokens: dict[str, Any] = field(repr=False)  # `simulators.phone.app.Tokens` fields
    claim: dict[str, Any] = field(repr=False)  # `simulators.phone.app.ClaimedClient` fields
    threads: tuple[dict[str, Any], ...] = ()  # the chats it last listed, newest first as the Mac gave them


@dataclass(frozen=True)
class StoredConnections:
    hosts: tuple[StoredHost, ...]
    active_host: str | None


class PhoneStorage:
    def __init__(self, folder: Path) -> None:
        self.folder = folder

    @property
    def _keychain(self) -> Path:
        return self.folder / KEYCHAIN_FILE

    @property
    def _connections(self) -> Path:
        return self.folder / CONNECTIONS_FILE

    def device_key(self) -> DeviceKey:
        """The phone's device key: the one in its keychain, or a new one put there (the app's first launch)."""
        key = DeviceKey.kept_in(self._keychain)
        if key is None:
            key = DeviceKey.generate()
            key.keep_in(self._keychain)
        return key

    def connections(self) -> StoredConnections:
        try:
            raw = json.loads(self._connections.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return StoredConnections((), None)
        except ValueError as exc:
            raise StorageUnreadable(f"{CONNECTIONS_FILE} is not JSON") from exc
        try:
            if raw["version"] != FORMAT_VERSION:
                raise StorageUnreadable(f"{CONNECTIONS_FILE} has version {raw['version']!r}")
            hosts = tuple(
                StoredHost(str(h["name"]), parse_pairing_link(str(h["link"])), dict(h["tokens"]), dict(h["claim"]),
                           tuple(dict(t) for t in h.get("threads", ())))
                for h in raw["hosts"]
            )
            active = raw.get("active_host")
        except (KeyError, TypeError, ValueError, PairsimError) as exc:
            raise StorageUnreadable(f"{CONNECTIONS_FILE} does not hold this app's connections") from exc
        return StoredConnections(hosts, active if isinstance(active, str) else None)

    def keep_connections(self, stored: StoredConnections) -> None:
        body = {
            "version": FORMAT_VERSION,
            "active_host": stored.active_host,
            "hosts": [
                {"name": h.name, "link": h.link.to_url(), "tokens": h.tokens, "claim": h.claim,
                 "threads": list(h.threads)}
                for h in stored.hosts
            ],
        }
        self.folder.mkdir(parents=True, exist_ok=True)
        temporary = self._connections.with_name(CONNECTIONS_FILE + ".tmp")
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            json.dump(body, handle)
        os.replace(temporary, self._connections)

    def erase(self) -> None:
        """The phone is gone (the world stops): its keychain and connections with it."""
        shutil.rmtree(self.folder, ignore_errors=True)
