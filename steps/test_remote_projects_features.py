"""Binds features/remote_projects: Codex on a Mac opening a project on a remote host over SSH, between real
network namespaces with the real codex on the host (needs root; fails, never skips, without it)."""

from pytest_bdd import scenarios

from steps.remote_projects_steps import *  # noqa: F403  (the steps must be visible in this module to bind)

scenarios("remote_projects")
