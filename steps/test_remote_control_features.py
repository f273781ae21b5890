"""Binds features/remote_control, run against `--daemon mock` (default) or `--daemon codex`."""

from pytest_bdd import scenarios

scenarios("remote_control")
