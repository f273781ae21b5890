"""People and their ChatGPT accounts: who exists, whether MFA is on, password changes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from pytest_bdd import given, parsers, when

if TYPE_CHECKING:
    from simulators.world import World
    from steps.context import ScenarioContext

PRONOUN = r"(?:her|his|their)"


@given(parsers.re(r"(?P<name>\w+) has a ChatGPT account with multi-factor authentication"))
def account_with_mfa(world: World, ctx: ScenarioContext, name: str) -> None:
    world.people.create(name, mfa=True)
    ctx.remember_person(name)


@given(parsers.re(
    r'(?P<name>\w+) has a ChatGPT account with multi-factor authentication and the team workspace "(?P<team>[^"]+)"'
))
def account_with_team(world: World, ctx: ScenarioContext, name: str, team: str) -> None:
    world.people.create(name, mfa=True, workspaces=(team,))
    ctx.remember_person(name)


@when(parsers.re(rf"(?P<name>\w+) changes {PRONOUN} ChatGPT password"))
def change_password(world: World, name: str) -> None:
    world.change_password(name)


@when(parsers.re(rf"(?P<name>\w+) sets up multi-factor authentication on {PRONOUN} account again"))
def refresh_mfa(world: World, name: str) -> None:
    world.people.set_up_mfa(name)


@when(parsers.re(rf"(?P<name>\w+) signs out of every remembered device in {PRONOUN} account's security settings"))
def forget_remembered_devices(world: World, name: str) -> None:
    world.people.forget_remembered_devices(name)


@given(parsers.re(r'the "(?P<workspace>[^"]+)" workspace does not allow remote control'))
def workspace_disallows_remote_control(world: World, ctx: ScenarioContext, workspace: str) -> None:
    (owner,) = [name for name in ctx.people if workspace in world.person(name).workspace_ids]
    world.people.set_workspace_policy(owner, workspace, allowed=False)


@given(parsers.re(r"(?P<name>\w+)'s account is in a region where remote control is not offered"))
def region_without_remote_control(world: World, name: str) -> None:
    world.people.set_region(name, "unsupported")
