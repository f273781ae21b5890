"""The people of a world and their ChatGPT accounts on its backend: who exists, and what they do to their
accounts on the web (MFA set-up, password changes, remembered devices, workspace policy, region).
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace

from simulators.backend.accounts import AccountSpec, CreatedAccount, Plan, Region, TeamWorkspaceSpec
from simulators.backend.admin import BackendControl
from simulators.world.runner import Runner


@dataclass(frozen=True)
class Persona:
    """A person in a scenario. The secrets are for the simulated hands only; they never reach a report."""

    name: str
    email: str
    password: str = field(repr=False)
    totp_secret: str | None = field(repr=False)
    user_id: str
    account_id: str
    workspace_ids: dict[str, str]


class People:
    def __init__(self, runner: Runner, control: BackendControl, *, seed: int) -> None:
        self._runner = runner
        self._control = control
        self._random = random.Random(seed)
        self._created: dict[str, CreatedAccount] = {}
        self._replaced: list[str] = []  # passwords and TOTP secrets a change replaced: still secrets

    def create(
        self, name: str, *, mfa: bool = True, plan: str = "plus", workspaces: Sequence[str] = (), region: str = "us"
    ) -> Persona:
        if name in self._created:
            raise ValueError(f"{name} already exists in this world")
        email = f"{name.lower()}.{self._random.randrange(10_000, 99_999)}@example.com"
        spec = AccountSpec(
            email=email,
            name=name,
            plan=Plan(plan),
            mfa=mfa,
            team_workspaces=tuple(TeamWorkspaceSpec(name=team) for team in workspaces),
            region=Region(region),
        )
        self._created[name] = self._runner.call(self._control.create_account, spec)
        return self.get(name)

    def get(self, name: str) -> Persona:
        try:
            created = self._created[name]
        except KeyError:
            raise ValueError(f"nobody called {name} exists in this world") from None
        account = self._runner.call(self._control.account, created.account.account_id)
        return Persona(
            name=name,
            email=account.email,
            password=created.password,
            totp_secret=created.totp_secret,
            user_id=account.user_id,
            account_id=account.account_id,
            workspace_ids={workspace.name: workspace.id for workspace in account.workspaces},
        )

    @property
    def names(self) -> list[str]:
        return list(self._created)

    def account_id(self, name: str) -> str:
        return self.get(name).account_id

    def _update(self, name: str, **changes: str | None) -> None:
        old = self._created[name]
        self._replaced.extend(secret for secret in (old.password, old.totp_secret) if secret)
        self._created[name] = replace(old, **changes)  # type: ignore[arg-type]

    def set_up_mfa(self, name: str) -> None:
        """MFA set up (again) with a new authenticator secret; every remembered browser is forgotten with it."""
        secret = self._runner.call(self._control.enable_mfa, self.account_id(name))
        self._update(name, totp_secret=secret)

    def forget_remembered_devices(self, name: str) -> int:
        """The person signs out of every remembered browser in her account's security settings."""
        return self._runner.call(self._control.forget_trusted_devices, self.account_id(name))

    def change_password(self, name: str) -> None:
        """A new password on the web: the backend revokes every session, token and enrollment of the account."""
        new_password = self._runner.call(self._control.change_password, self.account_id(name))
        self._update(name, password=new_password)

    def remove_paired_phone(self, name: str, phone: str) -> int:
        """The person removes the phone called `phone` from the devices in her ChatGPT account's settings on the
        web; returns how many paired connections that removed, once the backend has closed them."""
        return self._runner.run(self._control.remove_paired_device(self.account_id(name), phone))

    def set_workspace_policy(self, name: str, workspace: str, *, allowed: bool) -> None:
        workspace_id = self.get(name).workspace_ids[workspace]
        self._runner.call(self._control.set_workspace_policy, workspace_id, remote_control_allowed=allowed)

    def set_region(self, name: str, region: str) -> None:
        self._runner.call(self._control.set_region, self.account_id(name), region)

    def issued_secrets(self) -> Iterator[str]:
        for created in self._created.values():
            yield created.password
            if created.totp_secret:
                yield created.totp_secret
        yield from self._replaced
