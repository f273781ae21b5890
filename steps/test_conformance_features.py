"""Binds features/conformance: what crosses the wire. `@daemon` ones run against `--daemon mock` or `codex`."""

from pytest_bdd import scenarios

scenarios("conformance")
