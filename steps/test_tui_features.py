"""Binds features/tui: the real Codex TUI, run against `--daemon mock` (default) or `--daemon codex`."""

from pytest_bdd import scenarios

scenarios("tui")
