"""The ChatGPT backend and its model on the cloud host, for turns the real codex on devbox runs.

The backend is `netns.cloud.CloudIssuer` (its event loop on a thread that entered the cloud namespace),
with its HTTPS listener under a CA made for this lab and a certificate for the cloud's address, so the codex on
devbox reaches `https://10.14.55.1:<port>` over the veths and checks it for real. The person's sign-in is put
where codex keeps it on devbox (`~/.codex/config.toml`, `~/.codex/auth.json`), minted by this backend's issuer,
and the CA where her shell tells codex to read it.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

from simulators.backend.accounts import CreatedAccount
from simulators.netns.cloud import CloudIssuer
from simulators.netns.hosts import Network
from simulators.real.codex import ChatGptTokens, write_auth_json, write_config_toml
from simulators.tls import CA_ENVIRONMENT_VARIABLE, make_world_tls


class CloudBackend(CloudIssuer):
    """The cloud host's backend (`CloudIssuer`) with its HTTPS listener, the model's origin, under this lab's CA."""

    def __init__(self, network: Network, directory: Path, *, seed: int = 0) -> None:
        self.tls = make_world_tls(directory / "cloud-tls", addresses=(network.cloud.address,))
        super().__init__(network, seed=seed, tls=self.tls)

    def sign_in(self, home: Path, uid: int) -> CreatedAccount:
        """A person's account, signed in to the codex whose home is `home` (devbox's /home/<user>, on disk)."""
        person = self.control.create_account()
        minted = self.control.issue_tokens(person.account.account_id)
        codex_home = home / ".codex"
        codex_home.mkdir(exist_ok=True)
        write_config_toml(codex_home, chatgpt_base_url=f"{self.url}/backend-api/")
        write_auth_json(codex_home, ChatGptTokens(minted.id_token, minted.access_token, minted.refresh_token or "",
                                                  person.account.account_id),
                        last_refresh=datetime.fromtimestamp(self.control.now(), UTC))
        ca = home / ".codex" / "pairsim-ca.pem"
        ca.write_bytes(self.tls.ca_file.read_bytes())
        for path in (codex_home, *codex_home.iterdir()):
            os.lchown(path, uid, uid)
        return person

    @staticmethod
    def ca_line(home_in_host: str) -> str:
        """The line of the person's shell setup that tells codex which CA to trust (every shell reads it)."""
        return f'export {CA_ENVIRONMENT_VARIABLE}="{home_in_host}/.codex/pairsim-ca.pem"\n'
