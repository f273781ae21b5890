"""Binds features/daemon: the app-server listener, run against `--daemon mock` (default) or `--daemon codex`."""

from pytest_bdd import scenarios

from steps.daemon_steps import *  # noqa: F403  (the steps must be visible in this module to bind)

scenarios("daemon")
