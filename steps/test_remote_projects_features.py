"""Binds features/remote_projects (issue 12). The remote computer runs the real Codex whatever `--daemon` says, so
these scenarios are not `@daemon`: they run in the mock run, with the mock daemon on the Mac."""

from pytest_bdd import scenarios

scenarios("remote_projects")
