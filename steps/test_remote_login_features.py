"""Binds features/remote_login: `codex login` on a remote machine, the browser on a laptop, SSH tunnels between
real network namespaces (needs root; fails, never skips, without it)."""

from pytest_bdd import scenarios

from steps.remote_login_steps import *  # noqa: F403  (the steps must be visible in this module to bind)

scenarios("remote_login")
